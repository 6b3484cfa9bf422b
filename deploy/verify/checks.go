package verify

import (
	"fmt"
	"sort"
	"strings"
)

// Problems collects the findings of one check.
type Problems []string

func (p *Problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// AdminPortName, HTTPPortName: the container ports every service exposes (charts/messenger-lib).
const (
	AdminPortName = "admin"
	HTTPPortName  = "http"
)

// ServiceLabel is the pod label that names which service a workload is.
const ServiceLabel = "app.kubernetes.io/name"

// CheckSelectors: every Deployment/StatefulSet/DaemonSet has a non-empty selector that matches its own pod
// template labels; every PodDisruptionBudget selects some workload; every HorizontalPodAutoscaler targets a
// workload of the set.
func CheckSelectors(objs []Object) Problems {
	var p Problems
	for _, o := range objs {
		switch o.Kind() {
		case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
			sel := Selector(mapOf(get(o.Doc, "spec", "selector")))
			labels := mapOf(get(PodTemplate(o), "metadata", "labels"))
			if sel.Empty() {
				p.add("%s: empty spec.selector", o)
			} else if !sel.Matches(labels) {
				p.add("%s: spec.selector %v does not match the pod template labels %v", o, sel, labels)
			}
		case "PodDisruptionBudget":
			// Pods that an operator creates (RabbitmqCluster, MariaDB) are not in the set: only a budget in a
			// namespace where the set has workloads can be checked.
			sel := Selector(mapOf(get(o.Doc, "spec", "selector")))
			if !hasWorkloads(objs, o.Namespace()) {
				continue
			}
			if len(workloadsSelectedBy(objs, o.Namespace(), sel)) == 0 {
				p.add("%s: selector %v matches no workload's pods", o, sel)
			}
		case "HorizontalPodAutoscaler":
			ref := mapOf(get(o.Doc, "spec", "scaleTargetRef"))
			if findObject(objs, str(ref["kind"]), str(ref["name"]), o.Namespace()) == nil {
				p.add("%s: scaleTargetRef %s/%s is not in the rendered set", o, str(ref["kind"]), str(ref["name"]))
			}
		}
	}
	return p
}

// CheckServices: every Service with a selector selects at least one workload, and each of its ports has a
// named targetPort that is a container port of every selected pod template.
func CheckServices(objs []Object) Problems {
	var p Problems
	for _, o := range objs {
		if o.Kind() != "Service" {
			continue
		}
		selMap := mapOf(get(o.Doc, "spec", "selector"))
		if len(selMap) == 0 {
			continue // headless/external Service without pods of ours
		}
		pods := workloadsSelectedBy(objs, o.Namespace(), Selector{"matchLabels": selMap})
		if len(pods) == 0 {
			p.add("%s: selector %v matches no workload's pods", o, selMap)
			continue
		}
		for _, port := range list(get(o.Doc, "spec", "ports")) {
			pm := mapOf(port)
			tp, isName := pm["targetPort"].(string)
			if !isName || tp == "" {
				p.add("%s: port %s has targetPort %v, want the name of a container port", o, str(pm["name"]), pm["targetPort"])
				continue
			}
			for _, w := range pods {
				if containerPort(PodTemplate(w), tp) == nil {
					p.add("%s: targetPort %q is no container port of %s", o, tp, w)
				}
			}
		}
	}
	return p
}

// CheckProbes: every container of a service workload (pods labelled app.kubernetes.io/name) that exposes an
// admin port has liveness /healthz, readiness /readyz and a startup probe, all httpGet on the admin port; every
// ServiceMonitor endpoint scrapes /metrics on a Service port that targets the admin container port.
func CheckProbes(objs []Object) Problems {
	var p Problems
	want := map[string][]string{"livenessProbe": {"/healthz"}, "readinessProbe": {"/readyz"}, "startupProbe": {"/healthz", "/readyz"}}
	for _, o := range objs {
		if o.Kind() != "Deployment" && o.Kind() != "StatefulSet" {
			continue
		}
		tpl := PodTemplate(o)
		for _, c := range Containers(mapOf(tpl["spec"]), false) {
			admin := portByName(c, AdminPortName)
			if admin == nil {
				p.add("%s: container %s has no %q port", o, str(c["name"]), AdminPortName)
				continue
			}
			for _, probe := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
				pr := mapOf(c[probe])
				hg := mapOf(pr["httpGet"])
				if hg == nil {
					p.add("%s: container %s: %s is not an httpGet probe", o, str(c["name"]), probe)
					continue
				}
				if !samePort(hg["port"], admin) {
					p.add("%s: container %s: %s on port %v, want the admin port", o, str(c["name"]), probe, hg["port"])
				}
				if !contains(want[probe], str(hg["path"])) {
					p.add("%s: container %s: %s path %q, want %s", o, str(c["name"]), probe, str(hg["path"]), strings.Join(want[probe], " or "))
				}
			}
		}
	}
	for _, o := range objs {
		if o.Kind() != "ServiceMonitor" {
			continue
		}
		sel := Selector(mapOf(get(o.Doc, "spec", "selector")))
		var svcs []Object
		for _, s := range objs {
			if s.Kind() == "Service" && sel.Matches(mapOf(get(s.Doc, "metadata", "labels"))) {
				svcs = append(svcs, s)
			}
		}
		if len(svcs) == 0 {
			p.add("%s: selector matches no Service", o)
			continue
		}
		eps := list(get(o.Doc, "spec", "endpoints"))
		if len(eps) == 0 {
			p.add("%s: no endpoints", o)
		}
		for _, e := range eps {
			em := mapOf(e)
			if path := str(em["path"]); path != "/metrics" {
				p.add("%s: endpoint path %q, want /metrics", o, path)
			}
			port := str(em["port"])
			scraped := 0
			for _, s := range svcs {
				sp := servicePort(s, port)
				if sp == nil {
					continue // the operator scrapes only the selected Services that have this port
				}
				scraped++
				tp := str(sp["targetPort"])
				for _, w := range workloadsSelectedBy(objs, s.Namespace(), Selector{"matchLabels": mapOf(get(s.Doc, "spec", "selector"))}) {
					cp := containerPort(PodTemplate(w), tp)
					if cp == nil || str(cp["name"]) != AdminPortName {
						p.add("%s: endpoint port %q of %s does not reach the admin port of %s", o, port, s, w)
					}
				}
			}
			if scraped == 0 {
				p.add("%s: endpoint port %q is a port of none of the Services it selects", o, port)
			}
		}
	}
	return p
}

// CheckSecurity: every container and init container of every pod template runs non-root with a read-only
// root filesystem, no privilege escalation, all capabilities dropped, seccomp RuntimeDefault, cpu and memory
// limits, and GOMEMLIMIT set; no pod mounts a service account token.
func CheckSecurity(objs []Object) Problems {
	var p Problems
	for _, o := range objs {
		tpl := PodTemplate(o)
		if tpl == nil {
			continue
		}
		spec := mapOf(tpl["spec"])
		psc := mapOf(spec["securityContext"])
		if v, set := boolOf(spec["automountServiceAccountToken"]); set && v {
			p.add("%s: automountServiceAccountToken is true", o)
		}
		for _, c := range Containers(spec, true) {
			name := fmt.Sprintf("%s: container %s", o, str(c["name"]))
			sc := mapOf(c["securityContext"])
			nonRoot := firstSet(sc["runAsNonRoot"], psc["runAsNonRoot"])
			if nonRoot != true {
				p.add("%s: runAsNonRoot is not true", name)
			}
			if uid, ok := firstSet(sc["runAsUser"], psc["runAsUser"]).(float64); ok && uid == 0 {
				p.add("%s: runAsUser is 0", name)
			}
			if sc["readOnlyRootFilesystem"] != true {
				p.add("%s: readOnlyRootFilesystem is not true", name)
			}
			if sc["allowPrivilegeEscalation"] != false {
				p.add("%s: allowPrivilegeEscalation is not false", name)
			}
			if sc["privileged"] == true {
				p.add("%s: privileged", name)
			}
			drops := list(get(sc, "capabilities", "drop"))
			if !containsAny(drops, "ALL") {
				p.add("%s: capabilities.drop does not contain ALL", name)
			}
			if adds := list(get(sc, "capabilities", "add")); len(adds) > 0 {
				p.add("%s: capabilities.add %v", name, adds)
			}
			seccomp := firstSet(get(sc, "seccompProfile", "type"), get(psc, "seccompProfile", "type"))
			if seccomp != "RuntimeDefault" {
				p.add("%s: seccompProfile.type is %v, want RuntimeDefault", name, seccomp)
			}
			limits := mapOf(get(c, "resources", "limits"))
			for _, r := range []string{"cpu", "memory"} {
				if str(limits[r]) == "" {
					p.add("%s: no %s limit", name, r)
				}
			}
			if !hasEnv(c, "GOMEMLIMIT") {
				p.add("%s: GOMEMLIMIT not set", name)
			}
		}
	}
	return p
}

// CheckServiceAccounts: no ServiceAccount mounts its token automatically, and every pod template names a
// ServiceAccount of the set (not the namespace's default one).
func CheckServiceAccounts(objs []Object) Problems {
	var p Problems
	for _, o := range objs {
		if o.Kind() == "ServiceAccount" && o.Doc["automountServiceAccountToken"] != false {
			p.add("%s: automountServiceAccountToken is not false", o)
		}
		if tpl := PodTemplate(o); tpl != nil && o.Kind() != "Pod" {
			sa := str(get(tpl, "spec", "serviceAccountName"))
			if sa == "" || sa == "default" {
				p.add("%s: runs as the default ServiceAccount", o)
			} else if findObject(objs, "ServiceAccount", sa, o.Namespace()) == nil {
				p.add("%s: serviceAccountName %q is not in the rendered set", o, sa)
			}
		}
	}
	return p
}

// CallGraph maps each service to the services it calls over HTTP.
type CallGraph map[string][]string

// Callers inverts the graph.
func (g CallGraph) Callers(svc string) []string {
	var out []string
	for from, tos := range g {
		if contains(tos, svc) {
			out = append(out, from)
		}
	}
	sort.Strings(out)
	return out
}

// Infrastructure a service talks to, recognised by port in egress rules.
var infraPorts = map[string][]string{
	"dns":       {"53", "dns", "dns-tcp"},
	"mysql":     {"3306", "mysql"},
	"rabbitmq":  {"5672", "5671", "amqp", "amqps"},
	"collector": {"4317", "4318", "otlp-grpc", "otlp-http"},
}

// CheckNetworkPolicies compares the NetworkPolicies of a rendered set with the call graph. For every service
// of the graph that has a workload in the set:
//   - it is selected by a policy with both Ingress and Egress policy types;
//   - ingress to its http port: from anywhere for the public service, else from exactly its callers; any other
//     peer (another namespace, Prometheus, an ipBlock) only to the admin port;
//   - egress: to exactly its callees (on their http port), DNS, RabbitMQ, MySQL when it has a database
//     (MYSQL_DATABASE set), the collector when tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT set), nothing else.
func CheckNetworkPolicies(objs []Object, graph CallGraph, public string) Problems {
	var p Problems
	services := map[string]Object{}
	for _, o := range objs {
		if o.Kind() != "Deployment" {
			continue
		}
		svc := str(get(PodTemplate(o), "metadata", "labels", ServiceLabel))
		if _, ok := graph[svc]; ok {
			services[svc] = o
		}
	}
	if len(services) == 0 {
		return nil
	}
	var policies []Object
	for _, o := range objs {
		if o.Kind() == "NetworkPolicy" {
			policies = append(policies, o)
		}
	}
	// peerServices: which of our services a peer selects (podSelector only; namespaceSelector ignored).
	peerServices := func(peer map[string]any) []string {
		ps, has := peer["podSelector"]
		if !has || peer["ipBlock"] != nil {
			return nil
		}
		sel := Selector(mapOf(ps))
		if sel.Empty() {
			return nil
		}
		var out []string
		for svc, w := range services {
			if sel.Matches(mapOf(get(PodTemplate(w), "metadata", "labels"))) {
				out = append(out, svc)
			}
		}
		sort.Strings(out)
		return out
	}
	names := make([]string, 0, len(services))
	for s := range services {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, svc := range names {
		w := services[svc]
		labels := mapOf(get(PodTemplate(w), "metadata", "labels"))
		tplSpec := mapOf(get(PodTemplate(w), "spec"))
		var mine []Object
		hasIngress, hasEgress := false, false
		for _, np := range policies {
			if np.Namespace() != w.Namespace() {
				continue
			}
			if Selector(mapOf(get(np.Doc, "spec", "podSelector"))).Matches(labels) {
				mine = append(mine, np)
				for _, t := range list(get(np.Doc, "spec", "policyTypes")) {
					hasIngress = hasIngress || t == "Ingress"
					hasEgress = hasEgress || t == "Egress"
				}
			}
		}
		if len(mine) == 0 {
			p.add("%s: no NetworkPolicy selects its pods", svc)
			continue
		}
		if !hasIngress || !hasEgress {
			p.add("%s: its NetworkPolicies do not restrict both Ingress and Egress", svc)
		}
		// Ingress.
		httpFrom := map[string]bool{}
		for _, np := range mine {
			for _, r := range list(get(np.Doc, "spec", "ingress")) {
				rule := mapOf(r)
				toHTTP, toOther := portsCover(list(rule["ports"]), w, HTTPPortName)
				from := list(rule["from"])
				if len(from) == 0 {
					if toHTTP {
						httpFrom["<anywhere>"] = true
					}
					if toOther && svc != public {
						p.add("%s: ingress from anywhere to a port other than the admin port (%s)", svc, np.Name())
					}
					continue
				}
				for _, peer := range from {
					pm := mapOf(peer)
					srcs := peerServices(pm)
					if len(srcs) == 0 {
						if toHTTP {
							httpFrom[fmt.Sprintf("<outside %v>", pm)] = true
						}
						if toOther && svc != public && !onlyAdmin(list(rule["ports"]), w) {
							p.add("%s: ingress from %v to a port other than the admin port (%s)", svc, pm, np.Name())
						}
						continue
					}
					for _, s := range srcs {
						if toHTTP {
							httpFrom[s] = true
						}
					}
				}
			}
		}
		if svc == public {
			if !httpFrom["<anywhere>"] {
				p.add("%s: the public service does not take traffic from anywhere on its http port", svc)
			}
		} else {
			want := graph.Callers(svc)
			got := keys(httpFrom)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				p.add("%s: ingress to the http port allowed from %v, want exactly its callers %v", svc, got, want)
			}
		}
		// Egress.
		calleesAllowed := map[string]bool{}
		infra := map[string]bool{}
		for _, np := range mine {
			for _, r := range list(get(np.Doc, "spec", "egress")) {
				rule := mapOf(r)
				ports := list(rule["ports"])
				to := list(rule["to"])
				if len(to) == 0 {
					to = []any{map[string]any{}} // anywhere
				}
				for _, peer := range to {
					pm := mapOf(peer)
					dsts := peerServices(pm)
					if len(dsts) > 0 {
						for _, d := range dsts {
							calleesAllowed[d] = true
							dt := PodTemplate(services[d])
							for _, port := range ports {
								pv := mapOf(port)["port"]
								cp := containerPortByValue(dt, pv)
								if cp == nil || str(cp["name"]) != HTTPPortName {
									p.add("%s: egress to %s on port %v, which is not its http port", svc, d, pv)
								}
							}
							if len(ports) == 0 {
								p.add("%s: egress to %s on every port, want its http port", svc, d)
							}
						}
						continue
					}
					if len(ports) == 0 {
						p.add("%s: egress to %v on every port (%s)", svc, pm, np.Name())
						continue
					}
					for _, port := range ports {
						kind := infraKind(mapOf(port)["port"])
						if kind == "" {
							p.add("%s: egress to %v port %v is no known dependency (%s)", svc, pm, mapOf(port)["port"], np.Name())
							continue
						}
						infra[kind] = true
					}
				}
			}
		}
		wantCallees := append([]string(nil), graph[svc]...)
		sort.Strings(wantCallees)
		if got := keys(calleesAllowed); strings.Join(got, ",") != strings.Join(wantCallees, ",") {
			p.add("%s: egress allowed to services %v, want exactly its callees %v", svc, got, wantCallees)
		}
		needs := map[string]bool{"dns": true, "rabbitmq": true}
		env := podEnv(objs, w.Namespace(), tplSpec)
		needs["mysql"] = env["MYSQL_DATABASE"] || env["MYSQL_ADDR"]
		needs["collector"] = env["OTEL_EXPORTER_OTLP_ENDPOINT"] || env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
		for _, k := range []string{"dns", "mysql", "rabbitmq", "collector"} {
			switch {
			case needs[k] && !infra[k]:
				p.add("%s: no egress to %s", svc, k)
			case !needs[k] && infra[k]:
				p.add("%s: egress to %s, which it does not use", svc, k)
			}
		}
	}
	return p
}

// portsCover tells whether a rule's ports include the named container port of the workload, and whether they
// include any other port (no ports = every port).
func portsCover(ports []any, w Object, name string) (named, other bool) {
	if len(ports) == 0 {
		return true, true
	}
	tpl := PodTemplate(w)
	for _, port := range ports {
		cp := containerPortByValue(tpl, mapOf(port)["port"])
		if cp != nil && str(cp["name"]) == name {
			named = true
		} else {
			other = true
		}
	}
	return named, other
}

func onlyAdmin(ports []any, w Object) bool {
	if len(ports) == 0 {
		return false
	}
	tpl := PodTemplate(w)
	for _, port := range ports {
		cp := containerPortByValue(tpl, mapOf(port)["port"])
		if cp == nil || str(cp["name"]) != AdminPortName {
			return false
		}
	}
	return true
}

func infraKind(port any) string {
	s := str(port)
	for k, ps := range infraPorts {
		if contains(ps, s) {
			return k
		}
	}
	return ""
}

func workloadsSelectedBy(objs []Object, ns string, sel Selector) []Object {
	var out []Object
	for _, o := range objs {
		tpl := PodTemplate(o)
		if tpl == nil || o.Kind() == "Pod" || o.Namespace() != ns {
			continue
		}
		if sel.Matches(mapOf(get(tpl, "metadata", "labels"))) {
			out = append(out, o)
		}
	}
	return out
}

func hasWorkloads(objs []Object, ns string) bool {
	for _, o := range objs {
		if PodTemplate(o) != nil && o.Kind() != "Pod" && o.Namespace() == ns {
			return true
		}
	}
	return false
}

func findObject(objs []Object, kind, name, ns string) *Object {
	for i, o := range objs {
		if o.Kind() == kind && o.Name() == name && o.Namespace() == ns {
			return &objs[i]
		}
	}
	return nil
}

func servicePort(svc Object, name string) map[string]any {
	for _, port := range list(get(svc.Doc, "spec", "ports")) {
		if pm := mapOf(port); str(pm["name"]) == name {
			return pm
		}
	}
	return nil
}

func portByName(c map[string]any, name string) map[string]any {
	for _, port := range list(c["ports"]) {
		if pm := mapOf(port); str(pm["name"]) == name {
			return pm
		}
	}
	return nil
}

// containerPort finds a named container port in a pod template.
func containerPort(tpl map[string]any, name string) map[string]any {
	for _, c := range Containers(mapOf(tpl["spec"]), false) {
		if pm := portByName(c, name); pm != nil {
			return pm
		}
	}
	return nil
}

// containerPortByValue finds a container port by name (string) or number.
func containerPortByValue(tpl map[string]any, v any) map[string]any {
	for _, c := range Containers(mapOf(tpl["spec"]), false) {
		for _, port := range list(c["ports"]) {
			pm := mapOf(port)
			if s, ok := v.(string); ok && str(pm["name"]) == s {
				return pm
			}
			if _, isName := v.(string); !isName && str(pm["containerPort"]) == str(v) {
				return pm
			}
		}
	}
	return nil
}

func samePort(probePort any, cp map[string]any) bool {
	if s, ok := probePort.(string); ok {
		return s == str(cp["name"])
	}
	return str(probePort) == str(cp["containerPort"])
}

func hasEnv(c map[string]any, name string) bool {
	for _, e := range list(c["env"]) {
		em := mapOf(e)
		if str(em["name"]) == name && (str(em["value"]) != "" || em["valueFrom"] != nil) {
			return true
		}
	}
	return false
}

// podEnv returns the names of the variables the pod's containers get with a value: env entries with a value
// or valueFrom, and the keys of ConfigMaps and Secrets of the set named by envFrom.
func podEnv(objs []Object, ns string, spec map[string]any) map[string]bool {
	out := map[string]bool{}
	for _, c := range Containers(spec, false) {
		for _, e := range list(c["env"]) {
			em := mapOf(e)
			if str(em["value"]) != "" || em["valueFrom"] != nil {
				out[str(em["name"])] = true
			}
		}
		for _, ef := range list(c["envFrom"]) {
			efm := mapOf(ef)
			prefix := str(efm["prefix"])
			for kind, ref := range map[string]any{"ConfigMap": efm["configMapRef"], "Secret": efm["secretRef"]} {
				if ref == nil {
					continue
				}
				o := findObject(objs, kind, str(mapOf(ref)["name"]), ns)
				if o == nil {
					continue
				}
				for _, field := range []string{"data", "stringData"} {
					for k, v := range mapOf(o.Doc[field]) {
						if str(v) != "" {
							out[prefix+k] = true
						}
					}
				}
			}
		}
	}
	return out
}

func firstSet(vals ...any) any {
	for _, v := range vals {
		if v != nil {
			return v
		}
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func containsAny(l []any, s string) bool {
	for _, x := range l {
		if str(x) == s {
			return true
		}
	}
	return false
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
