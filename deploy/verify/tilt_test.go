package verify

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
)

// A Tiltfile is Starlark. The test parses and resolves it with Tilt's builtins stubbed (an unknown or misspelt
// builtin fails to resolve), runs it without side effects (local() and friends run nothing), records the
// calls, and checks them: files and folders they name exist, resource names are defined once and
// resource_deps name defined resources, and — when helm is installed in .tools/bin — k8s_resource names a
// workload of the rendered charts and every docker_build image is used by them.

// tiltCall is one recorded builtin call.
type tiltCall struct {
	fn     string
	args   starlark.Tuple
	kwargs map[string]starlark.Value
	pos    string
	// generated: the local() commands of the Tiltfile, which may create paths that do not exist yet.
	generated []string
}

func (c tiltCall) arg(i int, name string) starlark.Value {
	if v, ok := c.kwargs[name]; ok {
		return v
	}
	if i >= 0 && i < len(c.args) {
		return c.args[i]
	}
	return nil
}

// stub is an opaque value for anything the Tiltfile gets back from Tilt: attributes, calls, indexing and
// iteration all work and yield stubs (iteration yields nothing).
type stub struct{ name string }

func (s stub) String() string        { return "<" + s.name + ">" }
func (s stub) Type() string          { return "tilt_stub" }
func (s stub) Freeze()               {}
func (s stub) Truth() starlark.Bool  { return starlark.True }
func (s stub) Hash() (uint32, error) { return 0, nil }
func (s stub) Name() string          { return s.name }
func (s stub) Attr(n string) (starlark.Value, error) {
	return stub{s.name + "." + n}, nil
}
func (s stub) AttrNames() []string { return nil }
func (s stub) CallInternal(*starlark.Thread, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return stub{s.name + "()"}, nil
}
func (s stub) Get(starlark.Value) (starlark.Value, bool, error) {
	return stub{s.name + "[]"}, true, nil
}
func (s stub) Iterate() starlark.Iterator { return emptyIter{} }
func (s stub) Binary(syntax.Token, starlark.Value, starlark.Side) (starlark.Value, error) {
	return stub{s.name}, nil
}

type emptyIter struct{}

func (emptyIter) Next(*starlark.Value) bool { return false }
func (emptyIter) Done()                     {}

// tiltBuiltins are the Tilt API names a Tiltfile may use (docs.tilt.dev/api.html).
var tiltBuiltins = []string{
	"allow_k8s_contexts", "analytics_settings", "blob", "ci_settings", "config", "custom_build", "decode_json",
	"decode_yaml", "decode_yaml_stream", "default_registry", "disable_snapshots", "docker_build", "docker_compose",
	"docker_prune_settings", "dc_resource", "enable_feature", "encode_json", "encode_yaml", "encode_yaml_stream",
	"exit", "fail", "fall_back_on", "filter_yaml", "helm", "include", "initial_sync", "k8s_context", "k8s_custom_deploy",
	"k8s_kind", "k8s_namespace", "k8s_resource", "k8s_yaml", "kustomize", "link", "listdir", "load_dynamic", "local",
	"local_resource", "os", "port_forward", "read_file", "read_json", "read_yaml", "read_yaml_stream", "restart_container",
	"run", "secret_settings", "set_team", "shlex", "sys", "sync", "update_settings", "v1alpha1", "version_settings",
	"warn", "watch_file", "watch_settings", "workload_to_resource_function", "TRIGGER_MODE_AUTO", "TRIGGER_MODE_MANUAL",
	"config_map", "probe", "http_get_action", "exec_action", "tcp_socket_action", "labels",
}

// runTiltfile executes a Tiltfile with stubs and returns its calls.
func runTiltfile(path string) ([]tiltCall, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	var calls []tiltCall
	var localCmds []string
	predeclared := starlark.StringDict{"struct": starlark.NewBuiltin("struct", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		return stub{"struct"}, nil
	})}
	for _, name := range tiltBuiltins {
		name := name
		predeclared[name] = starlark.NewBuiltin(name, func(th *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			kw := map[string]starlark.Value{}
			for _, kv := range kwargs {
				kw[string(kv[0].(starlark.String))] = kv[1]
			}
			c := tiltCall{fn: name, args: args, kwargs: kw, pos: th.CallFrame(1).Pos.String()}
			calls = append(calls, c)
			switch name {
			case "read_file":
				p := strArg(c.arg(0, "path"))
				b, err := os.ReadFile(filepath.Join(dir, p))
				if err != nil {
					if d := c.arg(1, "default"); d != nil {
						return d, nil
					}
					return nil, fmt.Errorf("read_file(%q): %v", p, err)
				}
				return starlark.String(b), nil
			case "listdir":
				entries, _ := os.ReadDir(filepath.Join(dir, strArg(c.arg(0, "directory"))))
				var l []starlark.Value
				for _, e := range entries {
					l = append(l, starlark.String(filepath.Join(strArg(c.arg(0, "directory")), e.Name())))
				}
				return starlark.NewList(l), nil
			case "local":
				localCmds = append(localCmds, strArg(c.arg(0, "command")))
				return starlark.String(""), nil
			case "k8s_context":
				return starlark.String("kind-messenger"), nil
			case "decode_yaml_stream", "read_yaml_stream":
				return starlark.NewList(nil), nil
			case "decode_yaml", "decode_json", "read_yaml", "read_json":
				return starlark.NewDict(0), nil
			}
			return stub{name + "()"}, nil
		})
	}
	record := func(name string, ret func(c tiltCall) starlark.Value) *starlark.Builtin {
		return starlark.NewBuiltin(name, func(th *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			kw := map[string]starlark.Value{}
			for _, kv := range kwargs {
				kw[string(kv[0].(starlark.String))] = kv[1]
			}
			c := tiltCall{fn: name, args: args, kwargs: kw, pos: th.CallFrame(1).Pos.String()}
			calls = append(calls, c)
			return ret(c), nil
		})
	}
	none := func(tiltCall) starlark.Value { return starlark.None }
	predeclared["config"] = &starlarkstruct.Module{Name: "config", Members: starlark.StringDict{
		"define_string_list":      record("config.define_string_list", none),
		"define_string":           record("config.define_string", none),
		"define_bool":             record("config.define_bool", none),
		"define_object":           record("config.define_object", none),
		"parse":                   record("config.parse", func(tiltCall) starlark.Value { return starlark.NewDict(0) }),
		"set_enabled_resources":   record("config.set_enabled_resources", none),
		"clear_enabled_resources": record("config.clear_enabled_resources", none),
		"tilt_subcommand":         starlark.String("up"),
		"main_dir":                starlark.String(dir),
		"main_path":               starlark.String(path),
	}}
	predeclared["os"] = &starlarkstruct.Module{Name: "os", Members: starlark.StringDict{
		"getenv": record("os.getenv", func(c tiltCall) starlark.Value {
			if d := c.arg(1, "default"); d != nil {
				return d
			}
			return starlark.String("")
		}),
		"environ": starlark.NewDict(0),
		"getcwd":  record("os.getcwd", func(tiltCall) starlark.Value { return starlark.String(dir) }),
		"name":    starlark.String("posix"),
		"path": &starlarkstruct.Module{Name: "os.path", Members: starlark.StringDict{
			"join": record("os.path.join", func(c tiltCall) starlark.Value {
				var parts []string
				for _, a := range c.args {
					parts = append(parts, strArg(a))
				}
				return starlark.String(filepath.Join(parts...))
			}),
			"exists": record("os.path.exists", func(c tiltCall) starlark.Value {
				_, err := os.Stat(filepath.Join(dir, strArg(c.arg(0, "path"))))
				return starlark.Bool(err == nil)
			}),
			"abspath":  record("os.path.abspath", func(c tiltCall) starlark.Value { return starlark.String(filepath.Join(dir, strArg(c.arg(0, "path")))) }),
			"basename": record("os.path.basename", func(c tiltCall) starlark.Value { return starlark.String(filepath.Base(strArg(c.arg(0, "path")))) }),
			"dirname":  record("os.path.dirname", func(c tiltCall) starlark.Value { return starlark.String(filepath.Dir(strArg(c.arg(0, "path")))) }),
		}},
	}}
	predeclared["sys"] = &starlarkstruct.Module{Name: "sys", Members: starlark.StringDict{"argv": starlark.NewList(nil), "executable": starlark.String("tilt")}}
	predeclared["shlex"] = &starlarkstruct.Module{Name: "shlex", Members: starlark.StringDict{"quote": record("shlex.quote", func(c tiltCall) starlark.Value { return starlark.String("'" + strArg(c.arg(0, "s")) + "'") })}}
	predeclared["v1alpha1"] = stub{"v1alpha1"}
	opts := &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}
	thread := &starlark.Thread{Name: "Tiltfile"}
	// load("ext://x", "name") needs the names to exist: pre-scan and predeclare them as recorded stubs.
	f, err := opts.Parse(path, src, 0)
	if err != nil {
		return nil, err
	}
	extNames := map[string]bool{}
	for _, st := range f.Stmts {
		if ld, ok := st.(*syntax.LoadStmt); ok {
			for _, from := range ld.From {
				extNames[from.Name] = true
			}
		}
	}
	thread.Load = func(_ *starlark.Thread, module string) (starlark.StringDict, error) {
		if !strings.HasPrefix(module, "ext://") {
			return nil, fmt.Errorf("load(%q): only ext:// extensions are supported by this check", module)
		}
		d := starlark.StringDict{}
		for n := range extNames {
			n := n
			d[n] = starlark.NewBuiltin(n, func(th *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
				kw := map[string]starlark.Value{}
				for _, kv := range kwargs {
					kw[string(kv[0].(starlark.String))] = kv[1]
				}
				calls = append(calls, tiltCall{fn: module + ":" + n, args: args, kwargs: kw, pos: th.CallFrame(1).Pos.String()})
				return stub{n + "()"}, nil
			})
		}
		return d, nil
	}
	if _, err := starlark.ExecFileOptions(opts, thread, path, src, predeclared); err != nil {
		if ee, ok := err.(*starlark.EvalError); ok {
			return nil, fmt.Errorf("%s", ee.Backtrace())
		}
		return nil, err
	}
	// Paths a local() command creates (mkdir, cp) exist only when Tilt runs: mark them as generated.
	for i := range calls {
		calls[i].generated = localCmds
	}
	return calls, nil
}

func strArg(v starlark.Value) string {
	if s, ok := v.(starlark.String); ok {
		return string(s)
	}
	return ""
}

func strList(v starlark.Value) []string {
	switch x := v.(type) {
	case starlark.String:
		return []string{string(x)}
	case *starlark.List:
		var out []string
		for i := 0; i < x.Len(); i++ {
			if s, ok := x.Index(i).(starlark.String); ok {
				out = append(out, string(s))
			}
		}
		return out
	case starlark.Tuple:
		var out []string
		for _, e := range x {
			if s, ok := e.(starlark.String); ok {
				out = append(out, string(s))
			}
		}
		return out
	}
	return nil
}

// checkTiltCalls checks the recorded calls. workloads, when not nil, are the workload names the charts render
// (Tilt's default resource names) and images the images they use.
func checkTiltCalls(dir string, calls []tiltCall, workloads, images map[string]bool) Problems {
	var p Problems
	exists := func(c tiltCall, what, rel string) {
		if rel == "" || strings.ContainsAny(rel, "*?[") {
			return
		}
		for _, cmd := range c.generated {
			if strings.Contains(cmd, rel) {
				return
			}
		}
		if !filepath.IsAbs(rel) {
			rel = filepath.Join(dir, rel)
		}
		if _, err := os.Stat(rel); err != nil {
			p.add("%s: %s(): %s %q does not exist", c.pos, c.fn, what, rel)
		}
	}
	resources := map[string]string{}
	define := func(c tiltCall, name string) {
		if prev, dup := resources[name]; dup {
			p.add("%s: resource %q defined twice (first at %s)", c.pos, name, prev)
		}
		resources[name] = c.pos
	}
	var deps []struct {
		c    tiltCall
		name string
	}
	built := map[string]tiltCall{}
	for _, c := range calls {
		switch {
		case c.fn == "docker_build" || c.fn == "custom_build" || strings.HasSuffix(c.fn, ":docker_build_with_restart"):
			ref := strArg(c.arg(0, "ref"))
			if ref == "" {
				p.add("%s: %s() without an image ref", c.pos, c.fn)
			}
			built[ref] = c
			if c.fn != "custom_build" {
				exists(c, "context", strArg(c.arg(1, "context")))
				exists(c, "dockerfile", strArg(c.kwargs["dockerfile"]))
			}
			for _, d := range strList(c.kwargs["deps"]) {
				exists(c, "dep", d)
			}
		case c.fn == "helm":
			exists(c, "chart", strArg(c.arg(0, "paths")))
			for _, v := range strList(c.kwargs["values"]) {
				exists(c, "values file", v)
			}
		case c.fn == "k8s_yaml":
			for _, f := range strList(c.arg(0, "yaml")) {
				exists(c, "file", f)
			}
		case c.fn == "kustomize":
			exists(c, "folder", strArg(c.arg(0, "paths")))
		case c.fn == "watch_file":
			exists(c, "file", strArg(c.arg(0, "paths")))
		case c.fn == "local_resource":
			name := strArg(c.arg(0, "name"))
			if name == "" {
				p.add("%s: local_resource() without a name", c.pos)
			}
			define(c, name)
			for _, d := range strList(c.kwargs["deps"]) {
				exists(c, "dep", d)
			}
			for _, d := range strList(c.kwargs["resource_deps"]) {
				deps = append(deps, struct {
					c    tiltCall
					name string
				}{c, d})
			}
		case c.fn == "k8s_resource":
			wl := strArg(c.arg(0, "workload"))
			name := wl
			if nn := strArg(c.kwargs["new_name"]); nn != "" {
				name = nn
			}
			if wl != "" && workloads != nil && !workloads[wl] {
				p.add("%s: k8s_resource(%q): no such workload in the rendered charts (have %v)", c.pos, wl, keys(workloads))
			}
			if wl == "" && strArg(c.kwargs["new_name"]) == "" {
				p.add("%s: k8s_resource() names neither a workload nor new_name", c.pos)
			}
			define(c, name)
			for _, d := range strList(c.kwargs["resource_deps"]) {
				deps = append(deps, struct {
					c    tiltCall
					name string
				}{c, d})
			}
		}
	}
	for _, d := range deps {
		_, defined := resources[d.name]
		if !defined && !(workloads != nil && workloads[d.name]) {
			p.add("%s: resource_deps names %q, which is not a resource", d.c.pos, d.name)
		}
	}
	if images != nil {
		for ref, c := range built {
			if !images[ref] {
				p.add("%s: image %q is built but no rendered workload uses it (images: %v)", c.pos, ref, keys(images))
			}
		}
	}
	return p
}

// renderTiltHelm runs the recorded helm() calls with the installed helm and returns the workload names and
// image repositories they render; nil maps when helm is not installed.
func renderTiltHelm(t *testing.T, dir string, calls []tiltCall) (workloads, images map[string]bool) {
	helm := filepath.Join(repoRoot(t), ".tools", "bin", "helm")
	if _, err := os.Stat(helm); err != nil {
		t.Logf("helm not installed in .tools/bin: workload and image names not checked")
		return nil, nil
	}
	workloads, images = map[string]bool{}, map[string]bool{}
	for _, c := range calls {
		if c.fn != "helm" {
			continue
		}
		args := []string{"template", strArg(c.kwargs["name"]), strArg(c.arg(0, "paths"))}
		if args[1] == "" {
			args[1] = filepath.Base(args[2])
		}
		// The charts' kubeVersion is checked against the Kubernetes version helm assumes: a released helm binary
		// assumes its client-go's (recent), but a `go install`ed one (.tools/bin) assumes 1.20.
		args = append(args, "--kube-version", "1.37.2")
		if ns := strArg(c.kwargs["namespace"]); ns != "" {
			args = append(args, "--namespace", ns)
		}
		for _, v := range strList(c.kwargs["values"]) {
			args = append(args, "--values", v)
		}
		for _, s := range strList(c.kwargs["set"]) {
			args = append(args, "--set", s)
		}
		cmd := exec.Command(helm, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: helm %s: %v\n%s", c.pos, strings.Join(args, " "), err, out)
			continue
		}
		objs, err := ParseYAML("helm()", out)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			tpl := PodTemplate(o)
			if tpl == nil {
				continue
			}
			workloads[o.Name()] = true
			for _, ct := range Containers(mapOf(tpl["spec"]), true) {
				img := str(ct["image"])
				if i := strings.LastIndex(img, "@"); i > 0 {
					img = img[:i]
				}
				if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
					img = img[:i]
				}
				images[img] = true
			}
		}
	}
	return workloads, images
}

func TestTiltfile(t *testing.T) {
	path := filepath.Join(repoRoot(t), "Tiltfile")
	if _, err := os.Stat(path); os.IsNotExist(err) {
		t.Skip("Tiltfile does not exist yet")
	}
	calls, err := runTiltfile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fns []string
	for _, c := range calls {
		fns = append(fns, c.fn)
	}
	sort.Strings(fns)
	t.Logf("Tiltfile calls: %v", fns)
	workloads, images := renderTiltHelm(t, filepath.Dir(path), calls)
	if workloads != nil {
		t.Logf("rendered by its helm() calls: workloads %v, images %v", keys(workloads), keys(images))
	}
	for _, p := range checkTiltCalls(filepath.Dir(path), calls, workloads, images) {
		t.Error(p)
	}
}

// TestTiltfileCheckFires proves a broken Tiltfile is caught: an unknown builtin, a missing file, an undefined
// resource dependency, a workload that is not rendered, an unused image.
func TestTiltfileCheckFires(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "services/gateway/Dockerfile"), "FROM scratch\n")
	mustWrite(t, filepath.Join(dir, "charts/messenger/Chart.yaml"), "name: messenger\n")
	good := `load('ext://restart_process', 'docker_build_with_restart')
SERVICES = ['gateway']
for s in SERVICES:
    local_resource(s + '-compile', 'go build -o build/' + s + ' ./services/' + s, deps=['services/' + s])
    docker_build('simplemessenger/' + s, '.', dockerfile='services/' + s + '/Dockerfile')
k8s_yaml(helm('charts/messenger', name='messenger'))
k8s_resource('messenger-gateway', port_forwards=8080, resource_deps=['gateway-compile'])
local_resource('unit-tests', 'go test ./...', auto_init=False, trigger_mode=TRIGGER_MODE_MANUAL)
`
	workloads := map[string]bool{"messenger-gateway": true}
	images := map[string]bool{"simplemessenger/gateway": true}
	run := func(src string) Problems {
		t.Helper()
		p := filepath.Join(dir, "Tiltfile")
		mustWrite(t, p, src)
		calls, err := runTiltfile(p)
		if err != nil {
			return Problems{err.Error()}
		}
		return checkTiltCalls(dir, calls, workloads, images)
	}
	if p := run(good); len(p) != 0 {
		t.Fatalf("good Tiltfile rejected: %v", p)
	}
	for name, c := range map[string]struct{ from, to, want string }{
		"syntax error":     {"for s in SERVICES:", "for s in SERVICES", "got newline"},
		"unknown builtin":  {"docker_build(", "docker_buld(", "undefined: docker_buld"},
		"missing chart":    {"charts/messenger'", "charts/messengr'", "does not exist"},
		"missing file":     {"'/Dockerfile'", "'/Dockerfil'", "does not exist"},
		"undefined dep":    {"resource_deps=['gateway-compile']", "resource_deps=['gateway-build']", `"gateway-build", which is not a resource`},
		"unknown workload": {"k8s_resource('messenger-gateway'", "k8s_resource('gateway'", "no such workload"},
		"unused image":     {"'simplemessenger/' + s", "'messenger/' + s", "no rendered workload uses it"},
		"duplicate name":   {"'unit-tests'", "'gateway-compile'", "defined twice"},
	} {
		t.Run(name, func(t *testing.T) {
			p := run(strings.Replace(good, c.from, c.to, 1))
			if !strings.Contains(strings.Join(p, "\n"), c.want) {
				t.Errorf("want %q among %v", c.want, p)
			}
		})
	}
}
