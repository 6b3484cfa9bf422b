package main

import (
	"context"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// goBuildServices compiles the services as build/Dockerfile does (workspace mode from the repository root,
// CGO_ENABLED=0, -trimpath -buildvcs=false), for linux/amd64, all in one go build so they share its work.
func goBuildServices(log io.Writer) func(ctx context.Context, root, outDir string, svcs []service) (map[string]string, error) {
	return func(ctx context.Context, root, outDir string, svcs []service) (map[string]string, error) {
		args := []string{"build", "-trimpath", "-buildvcs=false", "-o", outDir + string(os.PathSeparator)}
		for _, s := range svcs {
			args = append(args, "./services/"+s.Name)
		}
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		// The workspace explicitly: this program may run with GOWORK=off (it is a module of its own).
		cmd.Env = setEnv(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOWORK="+filepath.Join(root, "go.work"))
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
		}
		bins := map[string]string{}
		for _, s := range svcs {
			p := filepath.Join(outDir, s.Name)
			if _, err := os.Stat(p); err != nil {
				return nil, fmt.Errorf("go build made no %s: %w", p, err)
			}
			bins[s.Name] = p
		}
		return bins, nil
	}
}

// setEnv is env with each KEY=value of kvs replacing any KEY already there.
func setEnv(env []string, kvs ...string) []string {
	out := make([]string, 0, len(env)+len(kvs))
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		keep := true
		for _, kv := range kvs {
			if strings.HasPrefix(kv, k+"=") {
				keep = false
			}
		}
		if keep {
			out = append(out, e)
		}
	}
	return append(out, kvs...)
}

// moduleDir is a module's directory in the module cache (downloaded through the Go module proxy if missing).
func moduleDir(ctx context.Context, modVersion string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", modVersion)
	cmd.Dir = os.TempDir()
	cmd.Env = setEnv(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	var m struct{ Dir, Error string }
	_ = json.Unmarshal(out, &m)
	if err != nil || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %v %s", modVersion, err, strings.TrimSpace(m.Error))
	}
	return m.Dir, nil
}

var pauseTag = regexp.MustCompile(`(?m)^TAG \?= *(\S+)\s*$`)

// gccBuildPause compiles Kubernetes' pause.c from the k8s.io/kubernetes module as its build/pause/Makefile does
// (CFLAGS = -Os -Wall -Werror -static -DVERSION=v$(TAG)-$(REV), then strip), with the machine's gcc and glibc.
func gccBuildPause(log io.Writer) func(ctx context.Context, kubernetesVersion, outDir string) (string, string, error) {
	return func(ctx context.Context, kubernetesVersion, outDir string) (string, string, error) {
		dir, err := moduleDir(ctx, "k8s.io/kubernetes@"+kubernetesVersion)
		if err != nil {
			return "", "", err
		}
		src := filepath.Join(dir, "build", "pause", "linux", "pause.c")
		if _, err := os.Stat(src); err != nil {
			return "", "", fmt.Errorf("k8s.io/kubernetes@%s has no build/pause/linux/pause.c: %w", kubernetesVersion, err)
		}
		mk, err := os.ReadFile(filepath.Join(dir, "build", "pause", "Makefile"))
		if err != nil {
			return "", "", err
		}
		m := pauseTag.FindSubmatch(mk)
		if m == nil {
			return "", "", fmt.Errorf("no TAG ?= line in k8s.io/kubernetes@%s build/pause/Makefile", kubernetesVersion)
		}
		version := string(m[1])
		out := filepath.Join(outDir, "pause")
		for _, c := range [][]string{
			{"gcc", "-Os", "-Wall", "-Werror", "-static", "-DVERSION=v" + version + "-" + kubernetesVersion, "-o", out, src},
			{"strip", out},
		} {
			cmd := exec.CommandContext(ctx, c[0], c[1:]...)
			cmd.Stdout, cmd.Stderr = log, log
			if err := cmd.Run(); err != nil {
				return "", "", fmt.Errorf("%s: %w (a static link needs libc6-dev's libc.a)", strings.Join(c, " "), err)
			}
		}
		return out, version, nil
	}
}

// checkCoreDNS makes sure path is a `go install`ed CoreDNS of that version, static (CGO_ENABLED=0: the base has
// no libc) and for linux/amd64, from its Go build information; it never runs the binary.
func checkCoreDNS(path, version string) error {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return fmt.Errorf("coredns binary %s: %w (install it: scripts/k8s-tools.sh coredns)", path, err)
	}
	if bi.Main.Path != "github.com/coredns/coredns" || bi.Main.Version != version {
		return fmt.Errorf("%s is %s@%s, want github.com/coredns/coredns@%s (scripts/k8s-tools.sh coredns)",
			path, bi.Main.Path, bi.Main.Version, version)
	}
	want := map[string]string{"CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": "amd64"}
	for _, s := range bi.Settings {
		if w, ok := want[s.Key]; ok {
			if s.Value != w {
				return fmt.Errorf("%s was built with %s=%s, want %s", path, s.Key, s.Value, w)
			}
			delete(want, s.Key)
		}
	}
	if len(want) > 0 {
		return fmt.Errorf("%s: its build information lacks %v", path, want)
	}
	return nil
}
