package verify

import (
	"fmt"
	"sort"
	"strings"
)

// ObjectRef is a Secret or ConfigMap a pod needs, and the key it reads ("" when it needs the object as a whole:
// envFrom, imagePullSecrets, a volume of every key).
type ObjectRef struct {
	Kind, Name, Key string
}

func (r ObjectRef) String() string {
	if r.Key == "" {
		return r.Kind + "/" + r.Name
	}
	return fmt.Sprintf("%s/%s key %s", r.Kind, r.Name, r.Key)
}

// PodObjectRefs lists what the pod templates (and Pods) of objs read from Secrets and ConfigMaps: env valueFrom
// secretKeyRef/configMapKeyRef, envFrom, secret/configMap volumes (each item's key, or the whole object) and their
// projected sources, and imagePullSecrets; with the objects that read them. Optional references are left out:
// a pod starts without them.
func PodObjectRefs(objs []Object) map[ObjectRef][]string {
	out := map[ObjectRef][]string{}
	add := func(o Object, kind, name, key string, optional any) {
		if name == "" || optional == true {
			return
		}
		r := ObjectRef{kind, name, key}
		out[r] = append(out[r], o.String())
	}
	for _, o := range objs {
		tpl := PodTemplate(o)
		if tpl == nil {
			continue
		}
		spec := mapOf(tpl["spec"])
		for _, c := range Containers(spec, true) {
			for _, e := range list(c["env"]) {
				vf := mapOf(mapOf(e)["valueFrom"])
				if r := mapOf(vf["secretKeyRef"]); r != nil {
					add(o, "Secret", str(r["name"]), str(r["key"]), r["optional"])
				}
				if r := mapOf(vf["configMapKeyRef"]); r != nil {
					add(o, "ConfigMap", str(r["name"]), str(r["key"]), r["optional"])
				}
			}
			for _, ef := range list(c["envFrom"]) {
				efm := mapOf(ef)
				if r := mapOf(efm["secretRef"]); r != nil {
					add(o, "Secret", str(r["name"]), "", r["optional"])
				}
				if r := mapOf(efm["configMapRef"]); r != nil {
					add(o, "ConfigMap", str(r["name"]), "", r["optional"])
				}
			}
		}
		volume := func(kind, name string, src map[string]any) {
			items := list(src["items"])
			if len(items) == 0 {
				add(o, kind, name, "", src["optional"])
			}
			for _, it := range items {
				add(o, kind, name, str(mapOf(it)["key"]), src["optional"])
			}
		}
		for _, v := range list(spec["volumes"]) {
			vm := mapOf(v)
			if s := mapOf(vm["secret"]); s != nil {
				volume("Secret", str(s["secretName"]), s)
			}
			if cm := mapOf(vm["configMap"]); cm != nil {
				volume("ConfigMap", str(cm["name"]), cm)
			}
			for _, src := range list(get(vm, "projected", "sources")) {
				sm := mapOf(src)
				if s := mapOf(sm["secret"]); s != nil {
					volume("Secret", str(s["name"]), s)
				}
				if cm := mapOf(sm["configMap"]); cm != nil {
					volume("ConfigMap", str(cm["name"]), cm)
				}
			}
		}
		for _, ps := range list(spec["imagePullSecrets"]) {
			add(o, "Secret", str(mapOf(ps)["name"]), "", nil)
		}
	}
	return out
}

// CheckObjectRefs: every Secret or ConfigMap key a pod reads is either made by the set itself (an object of that
// kind and name in the pod's namespace holding the key in data, stringData or binaryData) or among required, what
// the chart checks in the cluster before installing (charts/messenger: messenger.requiredObjects); and every
// required entry is read by some pod (a check of something nothing uses would fail installs for nothing).
func CheckObjectRefs(objs []Object, required []ObjectRef) Problems {
	var p Problems
	req := map[ObjectRef]bool{}
	for _, r := range required {
		req[r] = true
	}
	refs := PodObjectRefs(objs)
	used := map[ObjectRef]bool{}
	for _, r := range sortedRefs(refs) {
		ns := objectNamespace(objs, refs[r][0])
		if made := findObject(objs, r.Kind, r.Name, ns); made != nil {
			if r.Key != "" && !hasDataKey(*made, r.Key) {
				p.add("%s (read by %s) is made by the chart without that key", r, strings.Join(refs[r], ", "))
			}
			continue
		}
		used[r] = true
		if !req[r] {
			p.add("%s (read by %s) is neither made by the chart nor checked before installing", r, strings.Join(refs[r], ", "))
		}
	}
	for _, r := range required {
		if !used[r] {
			p.add("%s is checked before installing but no pod reads it (or the chart makes it)", r)
		}
	}
	return p
}

func hasDataKey(o Object, key string) bool {
	for _, field := range []string{"data", "stringData", "binaryData"} {
		if _, ok := mapOf(o.Doc[field])[key]; ok {
			return true
		}
	}
	return false
}

// objectNamespace finds the namespace of the object that String() printed as desc.
func objectNamespace(objs []Object, desc string) string {
	for _, o := range objs {
		if o.String() == desc {
			return o.Namespace()
		}
	}
	return ""
}

func sortedRefs(m map[ObjectRef][]string) []ObjectRef {
	out := make([]ObjectRef, 0, len(m))
	for r := range m {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
