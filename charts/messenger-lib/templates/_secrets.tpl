{{/*
Secrets (and the MySQL CA's ConfigMap): the one the chart makes, and the ones it only references.

The chart makes auth's signing key when signingKeys.generate (and no secretName): one random Ed25519 seed in the
Secret <release>-auth-signing-keys, generated at install and kept on every upgrade (the template looks the Secret
up and reuses its value; only `helm template` and client-side dry runs, which cannot look, show a fresh one). It
has no helm.sh/resource-policy: keep: `helm uninstall` deletes it with the release. A new key costs nothing lasting:
access tokens live 15 minutes and clients renew them with their refresh tokens, which are not signed. An operator
who rotates keys edits this Secret (the chart keeps the edited value) or brings their own with secretName.

Every other Secret or ConfigMap a pod needs is listed by messenger-lib.requiredObjects and checked against the
cluster by messenger-lib.requireObjects before anything is applied, so that a missing one fails the install with
the command that creates it instead of leaving pods in CreateContainerConfigError.
*/}}

{{- define "messenger-lib.signingKeysSecret" -}}
{{- $ctx := .ctx -}}
{{- $sk := .v.signingKeys -}}
{{- $value := randBytes 32 | b64enc -}}
{{- $existing := lookup "v1" "Secret" $ctx.Release.Namespace $sk.secretName -}}
{{- with $existing }}{{ with .data }}{{ with get . $sk.key }}{{ $value = . }}{{ end }}{{ end }}{{ end -}}
apiVersion: v1
kind: Secret
metadata:
  name: {{ $sk.secretName }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "messenger-lib.labels" $ctx | nindent 4 }}
  annotations:
    # Generated once (randBytes), then looked up and kept by every upgrade; deleted by helm uninstall.
    messenger.simplemessenger.dev/generated: "auth signing key: base64 Ed25519 seed, kept across upgrades"
type: Opaque
data:
  {{ $sk.key }}: {{ $value }}
{{- end -}}

{{/*
The Secrets and ConfigMaps a service's pods reference and the chart does not make, as a YAML list:
  - {kind: Secret|ConfigMap, name: ..., type: generic|docker-registry, usedBy: ["auth: MYSQL_PASSWORD"],
     keys: {<key>: {flag: from-literal|from-file, value: <what to give kubectl>}}}
Not listed: the Ingress's TLS Secret (cert-manager or the ingress controller may well make it after the install,
and the controller serves its default certificate meanwhile: nothing waits on it).
*/}}
{{- define "messenger-lib.requiredObjects" -}}
{{- $v := .v -}}
{{- $svc := .svc -}}
{{- $out := list -}}
{{- if $v.database.name -}}
{{- $ps := $v.database.passwordSecret -}}
{{- $keys := dict $ps.key (dict "flag" "from-literal" "value" (ternary (printf "'<password of the MySQL user of %s>'" $svc) (printf "'<password of MySQL user %s>'" $v.database.user) (ne $ps.usernameKey ""))) -}}
{{- $uses := list (printf "%s: MYSQL_PASSWORD" $svc) -}}
{{- with $ps.usernameKey -}}
{{- $_ := set $keys . (dict "flag" "from-literal" "value" (printf "'<MySQL user of %s, e.g. %s>'" $svc $v.database.user)) -}}
{{- $uses = append $uses (printf "%s: MYSQL_USER" $svc) -}}
{{- end -}}
{{- $out = append $out (dict "kind" "Secret" "name" $ps.name "type" "generic" "keys" $keys "usedBy" $uses) -}}
{{- $ca := $v.database.tls.ca -}}
{{- if or $ca.secretName $ca.configMapName -}}
{{- $out = append $out (dict "kind" (ternary "Secret" "ConfigMap" (ne $ca.secretName "")) "name" ($ca.secretName | default $ca.configMapName) "type" "generic"
      "keys" (dict $ca.key (dict "flag" "from-file" "value" "<CA certificate of the MySQL server, PEM file>"))
      "usedBy" (list (printf "%s: MYSQL_TLS_CA" $svc))) -}}
{{- end -}}
{{- end -}}
{{- if $v.amqp.url -}}
{{- $cs := $v.amqp.credentialsSecret -}}
{{- $keys := dict $cs.usernameKey (dict "flag" "from-literal" "value" "'<RabbitMQ user>'") -}}
{{- $_ := set $keys $cs.passwordKey (dict "flag" "from-literal" "value" "'<its password>'") -}}
{{- $out = append $out (dict "kind" "Secret" "name" $cs.name "type" "generic" "keys" $keys "usedBy" (list (printf "%s: AMQP_USERNAME, AMQP_PASSWORD" $svc))) -}}
{{- else -}}
{{- $us := $v.amqp.urlSecret -}}
{{- $out = append $out (dict "kind" "Secret" "name" $us.name "type" "generic"
      "keys" (dict $us.key (dict "flag" "from-literal" "value" "'amqp://<user>:<password, URL-escaped>@<host>:5672/<vhost>'"))
      "usedBy" (list (printf "%s: AMQP_URL" $svc))) -}}
{{- end -}}
{{- if eq $v.signingKeys.source "secret" -}}
{{- $out = append $out (dict "kind" "Secret" "name" $v.signingKeys.secretName "type" "generic"
      "keys" (dict $v.signingKeys.key (dict "flag" "from-literal" "value" "\"$(head -c 32 /dev/urandom | base64)\""))
      "usedBy" (list (printf "%s: AUTH_SIGNING_KEYS" $svc))) -}}
{{- end -}}
{{- range $v.imagePullSecrets -}}
{{- $out = append $out (dict "kind" "Secret" "name" . "type" "docker-registry" "keys" dict "usedBy" (list (printf "%s: image pull" $svc))) -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/*
Fails, before anything is applied, when an object of .objects (requiredObjects lists, concatenated) is missing in
the release's namespace or lacks a key, with the kubectl commands that make them. Only when Helm talks to a
cluster: `helm template`, `helm lint` and client-side dry runs cannot look anything up (lookup returns nothing, the
release's namespace included) and skip the check. A namespace that does not exist yet (helm install
--create-namespace) skips it too: create the namespace and the Secrets first.
*/}}
{{- define "messenger-lib.requireObjects" -}}
{{- $ns := .ctx.Release.Namespace -}}
{{- if lookup "v1" "Namespace" "" $ns -}}
{{- $merged := dict -}}
{{- range .objects -}}
{{- $id := printf "%s/%s" .kind .name -}}
{{- $m := get $merged $id -}}
{{- if not $m -}}
{{- $m = dict "kind" .kind "name" .name "type" .type "keys" dict "usedBy" list -}}
{{- $_ := set $merged $id $m -}}
{{- end -}}
{{- $_ := set $m "keys" (merge $m.keys (deepCopy .keys)) -}}
{{- $_ := set $m "usedBy" (concat $m.usedBy .usedBy | uniq) -}}
{{- end -}}
{{- $problems := list -}}
{{- range $id := keys $merged | sortAlpha -}}
{{- $m := get $merged $id -}}
{{- $obj := lookup "v1" $m.kind $ns $m.name -}}
{{- $missing := keys $m.keys | sortAlpha -}}
{{- $exists := false -}}
{{- if $obj -}}
{{- $exists = true -}}
{{- $have := merge dict ($obj.data | default dict) ($obj.binaryData | default dict) -}}
{{- $left := list -}}
{{- range $missing }}{{ if not (hasKey $have .) }}{{ $left = append $left . }}{{ end }}{{ end -}}
{{- $missing = $left -}}
{{- end -}}
{{- if or (not $exists) $missing -}}
{{- $cmd := "" -}}
{{- if eq $m.type "docker-registry" -}}
{{- $cmd = printf "kubectl -n %s create secret docker-registry %s --docker-server='<registry>' --docker-username='<user>' --docker-password='<password>'" $ns $m.name -}}
{{- else -}}
{{- $cmd = printf "kubectl -n %s create %s %s" $ns (ternary "secret generic" "configmap" (eq $m.kind "Secret")) $m.name -}}
{{- range $k := $missing }}{{ $e := get $m.keys $k }}{{ $cmd = printf "%s --%s=%s=%s" $cmd $e.flag $k $e.value }}{{ end -}}
{{- if $exists }}{{ $cmd = printf "%s --dry-run=client -o yaml | kubectl apply -f -" $cmd }}{{ end -}}
{{- end -}}
{{- $what := ternary (printf "%s %s has no key %s" $m.kind $m.name (join ", " $missing)) (printf "%s %s is missing" $m.kind $m.name) $exists -}}
{{- $problems = append $problems (printf "  # %s (%s)\n  %s" $what (join "; " $m.usedBy) $cmd) -}}
{{- end -}}
{{- end -}}
{{- if $problems -}}
{{- fail (printf "\n%d object(s) this release needs are missing in namespace %s: its pods would wait for them in CreateContainerConfigError. Make them (replace the <placeholders>), then run helm again:\n\n%s\n\n(charts/messenger/README.md, \"Secrets\".)" (len $problems) $ns (join "\n" $problems)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
