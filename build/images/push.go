package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// loopbackRegistry: a registry on this machine (127.0.0.1, localhost, ::1), spoken to in plain HTTP.
func loopbackRegistry(registry string) bool {
	host, _, _ := strings.Cut(registry, "/")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// push writes img to ref: plain HTTP when insecure, else HTTPS with the credentials of ~/.docker/config.json (and
// its credential helpers), as docker push would use.
func push(ctx context.Context, ref string, img v1.Image, insecure bool) error {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	if err := remote.Write(r, img, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithUserAgent("simplemessenger-images")); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}

// writeValues writes a values file for charts/messenger: the registry and tag for every service, and each image
// pushed pinned by its digest (image.digest). YAML, with every string a JSON string (valid YAML).
func writeValues(path, registry, tag string, res []result) error {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	var b strings.Builder
	b.WriteString("# Written by build/images (scripts/images.sh): the service images it pushed, pinned by digest.\n")
	b.WriteString("# helm upgrade --install messenger charts/messenger -n messenger -f <environment values> -f " + filepath.Base(path) + "\n")
	fmt.Fprintf(&b, "global:\n  image:\n    registry: %s\n    tag: %s\n", q(registry), q(tag))
	for _, r := range res {
		fmt.Fprintf(&b, "%s:\n  image:\n    digest: %s\n", r.Name, q(r.Digest.String()))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
