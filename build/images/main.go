// Command images builds SimpleMessenger's container images without a Docker daemon and without pulling a base
// image, and pushes them to an OCI registry (scripts/images.sh, `make images`).
//
// The base is made here, in memory: one layer with the build machine's CA bundle, /etc/passwd and /etc/group (root
// and nonroot 65532), /tmp (1777); user 65532:65532, linux/amd64. Each service image is that base plus one layer
// with the service binary (go build -trimpath -buildvcs=false, CGO_ENABLED=0, workspace mode, as build/Dockerfile)
// at /service. Every timestamp is SOURCE_DATE_EPOCH (default 0), so the same inputs give the same digests.
//
// With -cluster it makes the local cluster's support images instead: pause (Kubernetes' build/pause/linux/pause.c
// from the k8s.io/kubernetes module, compiled statically with the machine's gcc) and coredns (the binary that
// `scripts/k8s-tools.sh coredns` installs into .tools/bin).
//
// With -tool NAME=PATH:TAG (repeatable) it makes one image per program instead: the base plus PATH at /bin/NAME, its
// entrypoint, tagged TAG. The local cluster's operations tools (Prometheus, its operator and config reloader, Jaeger,
// metrics-server; scripts/images.sh tools) are made so from the static binaries scripts/k8s-tools.sh builds.
//
// It pushes with go-containerregistry (remote.Write): credentials from ~/.docker/config.json (authn.DefaultKeychain),
// plain HTTP for a loopback registry (127.0.0.1, localhost) or with INSECURE_REGISTRY=1. It prints one line per
// image (name, reference@digest) and writes a Helm values file for charts/messenger that pins every service image
// by digest.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// service is one of the five services, with its ports (as build/Dockerfile's build arguments).
type service struct {
	Name      string
	HTTPPort  int
	AdminPort int
}

var allServices = []service{
	{"gateway", 8080, 9080},
	{"auth", 8081, 9081},
	{"profiles", 8082, 9082},
	{"friends", 8083, 9083},
	{"messages", 8084, 9084},
}

// config is everything one run needs; the builders are functions so that tests can inject tiny fake binaries.
type config struct {
	Root     string // the repository root (holds go.work)
	Registry string // e.g. 127.0.0.1:5000 or ghcr.io/acme; images are <Registry>/simplemessenger/<name>:<tag>
	Tag      string
	Services []service
	Values   string // the Helm values file to write; "" writes none
	Push     bool
	Insecure bool   // plain HTTP (also automatic for a loopback registry)
	Cluster  bool   // the cluster support images (pause, coredns) instead of the services
	Tools    []tool // -tool: images of these programs instead of the services
	CACerts  string
	Revision string // org.opencontainers.image.revision; "" leaves it out
	Created  time.Time

	KubernetesVersion string // the k8s.io/kubernetes module whose build/pause/linux/pause.c is compiled
	PauseTag          string
	CoreDNS           string // the coredns binary (go install'ed, static)
	CoreDNSVersion    string

	// BuildServices compiles the services into outDir and returns each binary's path by service name.
	BuildServices func(ctx context.Context, root, outDir string, svcs []service) (map[string]string, error)
	// BuildPause compiles the pause program into outDir; it returns its path and the upstream pause version.
	BuildPause func(ctx context.Context, kubernetesVersion, outDir string) (path, version string, err error)
	// CheckCoreDNS makes sure the binary at path is CoreDNS at version, static, for linux/amd64.
	CheckCoreDNS func(path, version string) error

	Log io.Writer // progress; the result table goes to run's stdout
}

// tool is a program put into an image of its own at /bin/<Name> (-tool NAME=PATH:TAG).
type tool struct {
	Name, Path, Tag string
}

// parseTool reads NAME=PATH:TAG.
func parseTool(v string) (tool, error) {
	name, rest, ok := strings.Cut(v, "=")
	i := strings.LastIndex(rest, ":")
	if !ok || i < 0 {
		return tool{}, fmt.Errorf("-tool %q: want NAME=PATH:TAG", v)
	}
	t := tool{Name: name, Path: rest[:i], Tag: rest[i+1:]}
	if !imageName.MatchString(t.Name) || t.Path == "" || !imageTag.MatchString(t.Tag) {
		return tool{}, fmt.Errorf("-tool %q: want NAME=PATH:TAG (name [a-z0-9-], tag [A-Za-z0-9_.-])", v)
	}
	return t, nil
}

var (
	imageName = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	imageTag  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// result is one image made (and pushed).
type result struct {
	Name   string
	Ref    string // <registry>/simplemessenger/<name>:<tag>
	Digest v1.Hash
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseFlags(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err == nil {
		var res []result
		res, err = build(ctx, cfg)
		if err == nil {
			printTable(os.Stdout, res)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("images", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &config{Log: stderr, BuildServices: goBuildServices(stderr), BuildPause: gccBuildPause(stderr),
		CheckCoreDNS: checkCoreDNS}
	registry := getenv("REGISTRY")
	if registry == "" {
		registry = "127.0.0.1:5000"
	}
	fs.StringVar(&cfg.Registry, "registry", registry, "registry (and optional path) to push to, e.g. ghcr.io/acme (env REGISTRY)")
	fs.StringVar(&cfg.Tag, "tag", getenv("TAG"), "image tag (env TAG; required)")
	fs.StringVar(&cfg.Root, "root", "", "repository root (default: the directory above that holds go.work)")
	svcs := fs.String("services", "", "comma-separated services to build (default all: gateway,auth,profiles,friends,messages)")
	fs.StringVar(&cfg.Values, "values", "", "Helm values file to write for charts/messenger, \"-\" for none (default <root>/.run/images/values.yaml)")
	fs.BoolVar(&cfg.Push, "push", true, "push the images (-push=false only builds them and prints their digests)")
	fs.BoolVar(&cfg.Insecure, "insecure", getenv("INSECURE_REGISTRY") == "1", "plain HTTP to the registry (env INSECURE_REGISTRY=1; automatic for 127.0.0.1/localhost)")
	fs.BoolVar(&cfg.Cluster, "cluster", false, "make the cluster support images (pause, coredns) instead of the services")
	fs.Func("tool", "NAME=PATH:TAG: an image of that program at /bin/NAME instead of the services (repeatable)", func(v string) error {
		t, err := parseTool(v)
		if err == nil {
			cfg.Tools = append(cfg.Tools, t)
		}
		return err
	})
	fs.StringVar(&cfg.CACerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle put into the base image")
	fs.StringVar(&cfg.Revision, "revision", "", "org.opencontainers.image.revision (default: git rev-parse HEAD in the root, if any)")
	fs.StringVar(&cfg.KubernetesVersion, "kubernetes-version", "v1.37.2", "k8s.io/kubernetes module version whose build/pause/linux/pause.c is compiled")
	fs.StringVar(&cfg.PauseTag, "pause-tag", "3.10", "tag of the pause image")
	fs.StringVar(&cfg.CoreDNS, "coredns", "", "the coredns binary (default <root>/.tools/bin/coredns, installed by scripts/k8s-tools.sh coredns)")
	fs.StringVar(&cfg.CoreDNSVersion, "coredns-version", "v1.15.0", "the CoreDNS version the binary must be (also the image tag)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.Root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		if cfg.Root, err = findRoot(wd); err != nil {
			return nil, err
		}
	}
	if cfg.Values == "" {
		cfg.Values = filepath.Join(cfg.Root, ".run", "images", "values.yaml")
	} else if cfg.Values == "-" {
		cfg.Values = ""
	}
	if cfg.CoreDNS == "" {
		cfg.CoreDNS = filepath.Join(cfg.Root, ".tools", "bin", "coredns")
	}
	var err error
	if cfg.Services, err = selectServices(*svcs); err != nil {
		return nil, err
	}
	if cfg.Created, err = sourceDateEpoch(getenv("SOURCE_DATE_EPOCH")); err != nil {
		return nil, err
	}
	if cfg.Revision == "" {
		cfg.Revision = gitRevision(cfg.Root)
	}
	if cfg.Cluster && len(cfg.Tools) > 0 {
		return nil, errors.New("-cluster and -tool are separate runs")
	}
	if cfg.Tag == "" && !cfg.Cluster && len(cfg.Tools) == 0 {
		return nil, errors.New("-tag (or TAG) is required")
	}
	return cfg, nil
}

// findRoot is the nearest directory at or above dir that holds go.work.
func findRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.work at or above %s: pass -root", dir)
		}
	}
}

func selectServices(list string) ([]service, error) {
	if strings.TrimSpace(list) == "" {
		return allServices, nil
	}
	var out []service
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		found := false
		for _, s := range allServices {
			if s.Name == n {
				out, found = append(out, s), true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown service %q (gateway, auth, profiles, friends, messages)", n)
		}
	}
	return out, nil
}

// sourceDateEpoch is the reproducible-builds timestamp: SOURCE_DATE_EPOCH seconds, else the Unix epoch.
func sourceDateEpoch(v string) (time.Time, error) {
	if v == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	s, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", v, err)
	}
	return time.Unix(s, 0).UTC(), nil
}

func gitRevision(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--verify", "-q", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// build makes the images of cfg, pushes them (unless !cfg.Push) and writes the values file (services only).
func build(ctx context.Context, cfg *config) ([]result, error) {
	start := time.Now()
	certs, err := os.ReadFile(cfg.CACerts)
	if err != nil {
		return nil, fmt.Errorf("the base image's CA bundle: %w", err)
	}
	base, err := baseImage(certs, cfg.Created)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "simplemessenger-images-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	var imgs []named
	switch {
	case cfg.Cluster:
		imgs, err = clusterImages(ctx, cfg, base, tmp)
	case len(cfg.Tools) > 0:
		imgs, err = toolImages(cfg, base)
	default:
		imgs, err = serviceImages(ctx, cfg, base, tmp)
	}
	if err != nil {
		return nil, err
	}
	insecure := cfg.Insecure || loopbackRegistry(cfg.Registry)
	var res []result
	for _, n := range imgs {
		d, err := n.Image.Digest()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name, err)
		}
		ref := fmt.Sprintf("%s/simplemessenger/%s:%s", strings.TrimSuffix(cfg.Registry, "/"), n.Name, n.Tag)
		if cfg.Push {
			t := time.Now()
			if err := push(ctx, ref, n.Image, insecure); err != nil {
				return nil, err
			}
			fmt.Fprintf(cfg.Log, "pushed %s (%s) in %s\n", ref, d, time.Since(t).Round(time.Millisecond))
		}
		res = append(res, result{Name: n.Name, Ref: ref, Digest: d})
	}
	if !cfg.Cluster && len(cfg.Tools) == 0 && cfg.Push && cfg.Values != "" {
		if err := writeValues(cfg.Values, cfg.Registry, cfg.Tag, res); err != nil {
			return nil, err
		}
		fmt.Fprintf(cfg.Log, "wrote %s (helm ... -f %s)\n", cfg.Values, cfg.Values)
	}
	fmt.Fprintf(cfg.Log, "%d images in %s\n", len(res), time.Since(start).Round(time.Millisecond))
	return res, nil
}

// named is an image made but not yet pushed.
type named struct {
	Name, Tag string
	Image     v1.Image
}

func serviceImages(ctx context.Context, cfg *config, base v1.Image, tmp string) ([]named, error) {
	t := time.Now()
	bins, err := cfg.BuildServices(ctx, cfg.Root, tmp, cfg.Services)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Log, "built %d service binaries in %s\n", len(cfg.Services), time.Since(t).Round(time.Millisecond))
	var out []named
	for _, s := range cfg.Services {
		bin, err := os.ReadFile(bins[s.Name])
		if err != nil {
			return nil, fmt.Errorf("%s binary: %w", s.Name, err)
		}
		img, err := serviceImage(base, s, bin, cfg.Tag, cfg.Revision)
		if err != nil {
			return nil, fmt.Errorf("%s image: %w", s.Name, err)
		}
		out = append(out, named{Name: s.Name, Tag: cfg.Tag, Image: img})
	}
	return out, nil
}

func clusterImages(ctx context.Context, cfg *config, base v1.Image, tmp string) ([]named, error) {
	path, version, err := cfg.BuildPause(ctx, cfg.KubernetesVersion, tmp)
	if err != nil {
		return nil, fmt.Errorf("pause: %w", err)
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pause, err := pauseImage(bin, version, cfg.KubernetesVersion, cfg.Created)
	if err != nil {
		return nil, fmt.Errorf("pause image: %w", err)
	}
	if err := cfg.CheckCoreDNS(cfg.CoreDNS, cfg.CoreDNSVersion); err != nil {
		return nil, err
	}
	if bin, err = os.ReadFile(cfg.CoreDNS); err != nil {
		return nil, err
	}
	coredns, err := corednsImage(base, bin, cfg.CoreDNSVersion)
	if err != nil {
		return nil, fmt.Errorf("coredns image: %w", err)
	}
	return []named{
		{Name: "pause", Tag: cfg.PauseTag, Image: pause},
		{Name: "coredns", Tag: cfg.CoreDNSVersion, Image: coredns},
	}, nil
}

func toolImages(cfg *config, base v1.Image) ([]named, error) {
	var out []named
	for _, t := range cfg.Tools {
		bin, err := os.ReadFile(t.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Name, err)
		}
		img, err := toolImage(base, t.Name, bin, t.Tag)
		if err != nil {
			return nil, fmt.Errorf("%s image: %w", t.Name, err)
		}
		out = append(out, named{Name: t.Name, Tag: t.Tag, Image: img})
	}
	return out, nil
}

func printTable(w io.Writer, res []result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tREFERENCE")
	for _, r := range res {
		fmt.Fprintf(tw, "%s\t%s@%s\n", r.Name, r.Ref, r.Digest)
	}
	tw.Flush()
}
