package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	nonroot = "65532:65532" // distroless' nonroot, also in our /etc/passwd
	pauseID = "65535:65535" // as upstream's pause image (no passwd there: it is FROM scratch)
)

// The base's files, like distroless static's: root, nobody and nonroot, none with a shell.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group = "root:x:0:\n" +
		"nobody:x:65534:\n" +
		"nonroot:x:65532:\n"
	// Go's resolver reads it: /etc/hosts first, then DNS.
	nsswitch = "hosts: files dns\n"
)

var baseEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
}

// entry is one file or directory of a layer; Name is relative to / ("etc/passwd").
type entry struct {
	Name     string
	Dir      bool
	Mode     int64 // permission bits, with the sticky bit (01000) where wanted
	UID, GID int
	Data     []byte
}

// layer is an OCI gzip layer of entries, every timestamp created (so it is reproducible). The tar is in memory and
// its compressed form is kept after the first compression (the digest), for the push.
func layer(entries []entry, created time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name: e.Name, Mode: e.Mode, Uid: e.UID, Gid: e.GID, ModTime: created,
			Typeflag: tar.TypeReg, Size: int64(len(e.Data)),
		}
		if e.Dir {
			h.Name, h.Typeflag, h.Size = strings.TrimSuffix(e.Name, "/")+"/", tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}

// scratch is an empty OCI image for linux/amd64 whose config is cfg, created at created.
func scratch(cfg v1.Config, created time.Time) (v1.Image, error) {
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	return mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Created:      v1.Time{Time: created},
		Config:       cfg,
		RootFS:       v1.RootFS{Type: "layers"},
	})
}

// baseImage is the project's base: certs as /etc/ssl/certs/ca-certificates.crt, /etc/passwd, /etc/group and
// /etc/nsswitch.conf, /home/nonroot, /root, /tmp (1777); user nonroot, linux/amd64. Nothing is pulled.
func baseImage(certs []byte, created time.Time) (v1.Image, error) {
	l, err := layer([]entry{
		{Name: "etc", Dir: true, Mode: 0o755},
		{Name: "etc/group", Mode: 0o644, Data: []byte(group)},
		{Name: "etc/nsswitch.conf", Mode: 0o644, Data: []byte(nsswitch)},
		{Name: "etc/passwd", Mode: 0o644, Data: []byte(passwd)},
		{Name: "etc/ssl", Dir: true, Mode: 0o755},
		{Name: "etc/ssl/certs", Dir: true, Mode: 0o755},
		{Name: "etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Data: certs},
		{Name: "home", Dir: true, Mode: 0o755},
		{Name: "home/nonroot", Dir: true, Mode: 0o700, UID: 65532, GID: 65532},
		{Name: "root", Dir: true, Mode: 0o700},
		{Name: "tmp", Dir: true, Mode: 0o1777},
	}, created)
	if err != nil {
		return nil, err
	}
	img, err := scratch(v1.Config{User: nonroot, Env: baseEnv, WorkingDir: "/"}, created)
	if err != nil {
		return nil, err
	}
	return mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{
		Created:   v1.Time{Time: created},
		CreatedBy: "simplemessenger base (build/images): CA certificates, passwd/group with nonroot 65532, /tmp 1777",
	}})
}

// app is what an image adds to its base: one binary and the config around it.
type app struct {
	Path       string // absolute, e.g. /service
	Binary     []byte
	User       string
	Env        []string // after the base's
	Ports      []string // e.g. 8080/tcp
	Labels     map[string]string
	CreatedBy  string
	Entrypoint []string // default [Path]
}

// appImage is base plus a layer holding a.Binary at a.Path (root-owned, 0755), with a's config.
func appImage(base v1.Image, a app) (v1.Image, error) {
	cf, err := base.ConfigFile()
	if err != nil {
		return nil, err
	}
	l, err := layer([]entry{{Name: strings.TrimPrefix(a.Path, "/"), Mode: 0o755, Data: a.Binary}}, cf.Created.Time)
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(base, mutate.Addendum{Layer: l, History: v1.History{Created: cf.Created, CreatedBy: a.CreatedBy}})
	if err != nil {
		return nil, err
	}
	c := *cf.Config.DeepCopy()
	c.User = a.User
	c.Env = append(c.Env, a.Env...)
	c.Entrypoint = a.Entrypoint
	if c.Entrypoint == nil {
		c.Entrypoint = []string{a.Path}
	}
	c.Cmd = nil
	if len(a.Ports) > 0 {
		c.ExposedPorts = map[string]struct{}{}
		for _, p := range a.Ports {
			c.ExposedPorts[p] = struct{}{}
		}
	}
	if len(a.Labels) > 0 {
		c.Labels = map[string]string{}
		for k, v := range a.Labels {
			if v != "" {
				c.Labels[k] = v
			}
		}
	}
	return mutate.Config(img, c)
}

// serviceImage is build/Dockerfile's image without Docker: the binary at /service on the base, listening on all
// interfaces (the binaries' defaults are loopback, for make up).
func serviceImage(base v1.Image, s service, bin []byte, tag, revision string) (v1.Image, error) {
	return appImage(base, app{
		Path:   "/service",
		Binary: bin,
		User:   nonroot,
		Env:    []string{fmt.Sprintf("HTTP_ADDR=:%d", s.HTTPPort), fmt.Sprintf("ADMIN_ADDR=:%d", s.AdminPort)},
		Ports:  []string{fmt.Sprintf("%d/tcp", s.HTTPPort), fmt.Sprintf("%d/tcp", s.AdminPort)},
		Labels: map[string]string{
			"org.opencontainers.image.title":    "simplemessenger-" + s.Name,
			"org.opencontainers.image.version":  tag,
			"org.opencontainers.image.revision": revision,
		},
		CreatedBy: fmt.Sprintf("go build -trimpath -buildvcs=false ./services/%s (CGO_ENABLED=0) -> /service", s.Name),
	})
}

// pauseImage is upstream's pause image (build/pause/Dockerfile): FROM scratch, /pause, user 65535.
func pauseImage(bin []byte, pauseVersion, kubernetesVersion string, created time.Time) (v1.Image, error) {
	base, err := scratch(v1.Config{Env: baseEnv[:1], WorkingDir: "/"}, created)
	if err != nil {
		return nil, err
	}
	return appImage(base, app{
		Path:   "/pause",
		Binary: bin,
		User:   pauseID,
		Labels: map[string]string{
			"org.opencontainers.image.title":   "pause",
			"org.opencontainers.image.version": pauseVersion,
			"org.opencontainers.image.source":  "k8s.io/kubernetes@" + kubernetesVersion + " build/pause/linux/pause.c",
		},
		CreatedBy: fmt.Sprintf("gcc -Os -Wall -Werror -static pause.c (k8s.io/kubernetes@%s) -> /pause", kubernetesVersion),
	})
}

// corednsImage is CoreDNS on the base, as upstream's (distroless static nonroot): it binds :53 as nonroot only with
// the capability NET_BIND_SERVICE, which its Deployment adds (securityContext.capabilities.add), as upstream's does.
// toolImage is base plus one program at /bin/<name>, run as nonroot; Kubernetes manifests (or an operator) give its
// arguments.
func toolImage(base v1.Image, name string, bin []byte, tag string) (v1.Image, error) {
	return appImage(base, app{
		Path:   "/bin/" + name,
		Binary: bin,
		User:   nonroot,
		Labels: map[string]string{
			"org.opencontainers.image.title":   name,
			"org.opencontainers.image.version": tag,
		},
		CreatedBy: fmt.Sprintf("%s %s (static) -> /bin/%s", name, tag, name),
	})
}

func corednsImage(base v1.Image, bin []byte, version string) (v1.Image, error) {
	return appImage(base, app{
		Path:   "/coredns",
		Binary: bin,
		User:   nonroot,
		Ports:  []string{"53/tcp", "53/udp"},
		Labels: map[string]string{
			"org.opencontainers.image.title":   "coredns",
			"org.opencontainers.image.version": version,
			"org.opencontainers.image.source":  "github.com/coredns/coredns@" + version,
		},
		CreatedBy: fmt.Sprintf("go install github.com/coredns/coredns@%s (CGO_ENABLED=0) -> /coredns", version),
	})
}
