{{/*
The effective values of a service: the library's defaults, overlaid by the service chart's values (key by key:
unlike mergeOverwrite, an explicit false or 0 wins), then the umbrella's globals filled in where the service says
nothing. Every template works on this dict.
*/}}

{{- define "messenger-lib.defaults" -}}
replicaCount: 2
image:
  registry: ""          # empty: global.image.registry, then none
  repository: ""        # empty: simplemessenger/<service>
  tag: ""               # empty: global.image.tag, then the chart's appVersion
  digest: ""            # sha256:..., pins the image (tag kept for readability)
  pullPolicy: ""        # empty: global.image.pullPolicy, then IfNotPresent
imagePullSecrets: []
logLevel: info
env: {}                 # further settings of the service (README "Configuration"), as NAME: "value"
resources:
  requests: {cpu: 50m, memory: 64Mi}
  limits: {cpu: "1", memory: 256Mi}
goMemLimitPercent: 90   # GOMEMLIMIT = this share of limits.memory, so the GC works harder before the OOM killer
terminationGracePeriodSeconds: 30
tmpSizeLimit: 64Mi      # the emptyDir on /tmp (the root filesystem is read-only); Tilt's live update syncs there
autoscaling:
  enabled: false
  minReplicas: 2
  maxReplicas: 6
  targetCPUUtilizationPercentage: 75
  # spec.behavior: up fast (double within 30 s), down slowly and one pod a minute, so a scale-in sends only one
  # replica's clients elsewhere at a time (and the gateway spreads even those over WS_DRAIN_PERIOD).
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 0
      policies: [{type: Percent, value: 100, periodSeconds: 30}]
    scaleDown:
      stabilizationWindowSeconds: 300
      policies: [{type: Pods, value: 1, periodSeconds: 60}]
podDisruptionBudget:
  enabled: true
  maxUnavailable: 1
networkPolicy:
  enabled: true
  public: false         # the http port open to every source (the gateway only)
  callers: []           # services allowed on the http port
  callees: []           # services this one calls; each gives <NAME>_URL and an egress rule
serviceMonitor:
  enabled: true         # rendered only when the Prometheus Operator's API exists
  reachability: true    # and a ScrapeConfig of the Service's address (ServiceDown on time), where the API has it
  reachabilityInterval: 5s
  reachabilityTimeout: 2s
  interval: 30s
  scrapeTimeout: 10s
  labels: {}
database:
  name: ""              # MYSQL_DATABASE; empty: the service has no database
  user: ""              # MYSQL_USER (unless passwordSecret.usernameKey); empty: the service's name
  host: ""              # empty: global.mysql.host, then messenger-mariadb
  port: 0               # 0: global.mysql.port, then 3306
  passwordSecret:
    name: ""            # Secret holding the user's password (created by the database operator, or by you)
    key: password
    usernameKey: ""     # set (e.g. username): MYSQL_USER comes from this key of the same Secret instead of `user`
  tls:
    mode: ""            # MYSQL_TLS; empty: global.mysql.tls.mode, then "true" with a CA, else "false"
    ca:                 # MYSQL_TLS_CA: a CA certificate (PEM) mounted from a Secret or a ConfigMap; both empty:
      secretName: ""    # global.mysql.tls.ca
      configMapName: ""
      key: ""           # empty: global.mysql.tls.ca.key, then ca.crt
amqp:
  urlSecret:
    name: ""            # empty: global.rabbitmq.urlSecret.name, then messenger-amqp (unused when global.rabbitmq.host is set)
    key: ""             # empty: global.rabbitmq.urlSecret.key, then url
  credentialsSecret:    # AMQP_USERNAME/AMQP_PASSWORD when global.rabbitmq.host is set (the URL then comes from values)
    name: ""            # empty: global.rabbitmq.credentialsSecret.name
    usernameKey: ""     # empty: global's, then username
    passwordKey: ""     # empty: global's, then password
  exchange: ""          # empty: global.rabbitmq.exchange, then the service's default (messenger.events)
signingKeys:            # auth only: AUTH_SIGNING_KEYS
  generate: false       # a chart-made Secret <release>-auth-signing-keys with one random key, kept across upgrades
  secretName: ""        # instead, an existing Secret (yours); neither: keys kept in auth's database (development)
  key: keys
otel:
  endpoint: ""          # empty: global.otel.endpoint; both empty: tracing off
  protocol: ""          # empty: global.otel.protocol, then grpc
  resourceAttributes: ""
topologySpread:
  enabled: true
podAnnotations: {}
podLabels: {}
nodeSelector: {}
tolerations: []
affinity: {}
{{- end -}}

{{/*
Where the infrastructure is, for the NetworkPolicies: NetworkPolicyPeers and ports of each dependency. Override in
the umbrella's global.networkPolicy.peers (k8s/ decides where MySQL, RabbitMQ and the collector run).
*/}}
{{- define "messenger-lib.defaultPeers" -}}
dns:
  to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
  ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
mysql:
  # mariadb-operator's pods of the MariaDB "messenger-mariadb" (k8s/), in the release's namespace
  to:
    - podSelector: {matchLabels: {app.kubernetes.io/name: mariadb, app.kubernetes.io/instance: messenger-mariadb}}
rabbitmq:
  # the RabbitMQ Cluster Operator's pods of the RabbitmqCluster "messenger-rabbitmq" (k8s/), same namespace
  to:
    - podSelector: {matchLabels: {app.kubernetes.io/name: messenger-rabbitmq, app.kubernetes.io/component: rabbitmq}}
  ports:
    - {port: 5672, protocol: TCP}
otel:
  # an OpenTelemetry Collector in any namespace
  to:
    - namespaceSelector: {}
      podSelector: {matchLabels: {app.kubernetes.io/component: opentelemetry-collector}}
  ports:
    - {port: 4317, protocol: TCP}
    - {port: 4318, protocol: TCP}
prometheus:
  # Prometheus Operator's Prometheus pods in any namespace
  from:
    - namespaceSelector: {}
      podSelector: {matchLabels: {app.kubernetes.io/name: prometheus}}
{{- end -}}

{{/* Deep merge of .src into .dst by key presence (maps merge, everything else replaces). Mutates .dst. */}}
{{- define "messenger-lib.merge" -}}
{{- $dst := .dst -}}
{{- range $k, $sv := .src -}}
{{- $dv := get $dst $k -}}
{{- if and (kindIs "map" $sv) (kindIs "map" $dv) -}}
{{- include "messenger-lib.merge" (dict "dst" $dv "src" $sv) -}}
{{- else -}}
{{- $_ := set $dst $k $sv -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "messenger-lib.values" -}}
{{- $v := include "messenger-lib.defaults" . | fromYaml -}}
{{- include "messenger-lib.merge" (dict "dst" $v "src" (omit (deepCopy .Values) "global" "messenger-lib")) -}}
{{- $g := .Values.global | default dict -}}
{{- $svc := include "messenger-lib.service" . -}}
{{- $img := $v.image -}}
{{- $_ := set $img "registry" ($img.registry | default (dig "image" "registry" "" $g)) -}}
{{- $_ := set $img "repository" ($img.repository | default (printf "simplemessenger/%s" $svc)) -}}
{{- $_ := set $img "tag" ($img.tag | default (dig "image" "tag" "" $g) | default .Chart.AppVersion) -}}
{{- $_ := set $img "pullPolicy" ($img.pullPolicy | default (dig "image" "pullPolicy" "" $g) | default "IfNotPresent") -}}
{{- if not $v.imagePullSecrets -}}
{{- $_ := set $v "imagePullSecrets" (dig "image" "pullSecrets" list $g) -}}
{{- end -}}
{{- $db := $v.database -}}
{{- $_ := set $db "host" ($db.host | default (dig "mysql" "host" "" $g) | default "messenger-mariadb") -}}
{{- $_ := set $db "port" (int ($db.port | default (dig "mysql" "port" 3306 $g))) -}}
{{- $_ := set $db "user" ($db.user | default $svc) -}}
{{- /* MySQL TLS: the service's CA, else the global one; the mode, else the global one, else "true" with a CA. */ -}}
{{- $tls := $db.tls -}}
{{- if not (or $tls.ca.secretName $tls.ca.configMapName) -}}
{{- $_ := set $tls.ca "secretName" (dig "mysql" "tls" "ca" "secretName" "" $g) -}}
{{- $_ := set $tls.ca "configMapName" (dig "mysql" "tls" "ca" "configMapName" "" $g) -}}
{{- end -}}
{{- $_ := set $tls.ca "key" ($tls.ca.key | default (dig "mysql" "tls" "ca" "key" "" $g) | default "ca.crt") -}}
{{- $mode := $tls.mode -}}
{{- if and (not (kindIs "bool" $mode)) (not $mode) -}}{{- $mode = dig "mysql" "tls" "mode" "" $g -}}{{- end -}}
{{- if and (not (kindIs "bool" $mode)) (not $mode) -}}{{- $mode = ternary "true" "false" (ne "" (print $tls.ca.secretName $tls.ca.configMapName)) -}}{{- end -}}
{{- $_ := set $tls "mode" (lower (toString $mode)) -}}
{{- /* RabbitMQ: with global.rabbitmq.host (and no urlSecret of the service's own) the URL is built from values and
the credentials come from credentialsSecret (AMQP_USERNAME/AMQP_PASSWORD); otherwise the whole URL is a Secret. */ -}}
{{- $amqp := $v.amqp -}}
{{- $rmqHost := dig "rabbitmq" "host" "" $g -}}
{{- if and $rmqHost (not $amqp.urlSecret.name) -}}
{{- $scheme := ternary "amqps" "amqp" (eq (toString (dig "rabbitmq" "tls" false $g)) "true") -}}
{{- $port := int (dig "rabbitmq" "port" 0 $g | default (ternary 5671 5672 (eq $scheme "amqps"))) -}}
{{- $vhost := toString (dig "rabbitmq" "vhost" "/" $g) -}}
{{- $_ := set $amqp "url" (printf "%s://%s:%d/%s" $scheme $rmqHost $port (ternary "" $vhost (or (eq $vhost "/") (eq $vhost "")))) -}}
{{- $_ := set $amqp "port" $port -}}
{{- $cs := $amqp.credentialsSecret -}}
{{- $_ := set $cs "name" ($cs.name | default (dig "rabbitmq" "credentialsSecret" "name" "" $g)) -}}
{{- $_ := set $cs "usernameKey" ($cs.usernameKey | default (dig "rabbitmq" "credentialsSecret" "usernameKey" "" $g) | default "username") -}}
{{- $_ := set $cs "passwordKey" ($cs.passwordKey | default (dig "rabbitmq" "credentialsSecret" "passwordKey" "" $g) | default "password") -}}
{{- $_ := set $amqp.urlSecret "name" "" -}}
{{- else -}}
{{- $_ := set $amqp "url" "" -}}
{{- $_ := set $amqp.urlSecret "name" ($amqp.urlSecret.name | default (dig "rabbitmq" "urlSecret" "name" "" $g) | default "messenger-amqp") -}}
{{- $_ := set $amqp.urlSecret "key" ($amqp.urlSecret.key | default (dig "rabbitmq" "urlSecret" "key" "" $g) | default "url") -}}
{{- $_ := set $amqp.credentialsSecret "name" "" -}}
{{- end -}}
{{- $_ := set $amqp "exchange" ($amqp.exchange | default (dig "rabbitmq" "exchange" "" $g)) -}}
{{- $_ := set $v.otel "endpoint" ($v.otel.endpoint | default (dig "otel" "endpoint" "" $g)) -}}
{{- $_ := set $v.otel "protocol" ($v.otel.protocol | default (dig "otel" "protocol" "" $g) | default "grpc") -}}
{{- $_ := set $v.otel "resourceAttributes" ($v.otel.resourceAttributes | default (dig "otel" "resourceAttributes" "" $g)) -}}
{{- /* AUTH_SIGNING_KEYS (auth only): source "secret" (an existing Secret), "generated" (the chart's own Secret) or
"database" (none: auth keeps a key in its database). */ -}}
{{- $sk := $v.signingKeys -}}
{{- if ne $svc "auth" -}}
{{- $_ := set $sk "source" "none" -}}
{{- else if $sk.secretName -}}
{{- $_ := set $sk "source" "secret" -}}
{{- else if $sk.generate -}}
{{- $_ := set $sk "source" "generated" -}}
{{- $_ := set $sk "secretName" (printf "%s-signing-keys" (include "messenger-lib.fullname" .) | trunc 63 | trimSuffix "-") -}}
{{- else -}}
{{- $_ := set $sk "source" "database" -}}
{{- end -}}
{{- $peers := include "messenger-lib.defaultPeers" . | fromYaml -}}
{{- include "messenger-lib.merge" (dict "dst" $peers "src" (dig "networkPolicy" "peers" dict $g)) -}}
{{- /* RabbitMQ's port comes from values when its address does (unless the peer's ports are given). */ -}}
{{- if and $amqp.url (not (dig "networkPolicy" "peers" "rabbitmq" "ports" list $g)) -}}
{{- $_ := set $peers.rabbitmq "ports" (list (dict "port" $amqp.port "protocol" "TCP")) -}}
{{- end -}}
{{- $_ := set $v "networkPeers" $peers -}}
{{- $_ := set $v "global" $g -}}
{{- toYaml $v -}}
{{- end -}}

{{/* "registry/repository:tag@digest" */}}
{{- define "messenger-lib.image" -}}
{{- $i := .image -}}
{{- $ref := $i.repository -}}
{{- if $i.registry }}{{ $ref = printf "%s/%s" (trimSuffix "/" $i.registry) $ref }}{{ end -}}
{{- if $i.tag }}{{ $ref = printf "%s:%s" $ref (toString $i.tag) }}{{ end -}}
{{- if $i.digest }}{{ $ref = printf "%s@%s" $ref $i.digest }}{{ end -}}
{{- $ref -}}
{{- end -}}

{{/*
GOMEMLIMIT in bytes: goMemLimitPercent of resources.limits.memory (an integer with an optional binary or decimal
suffix: 256Mi, 1Gi, 500M, 268435456).
*/}}
{{- define "messenger-lib.goMemLimit" -}}
{{- $q := toString (dig "limits" "memory" "" .resources) -}}
{{- if not (regexMatch "^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$" $q) -}}
{{- fail (printf "messenger-lib: resources.limits.memory must be an integer with an optional suffix Ki, Mi, Gi, Ti, k, M, G, T (got %q)" $q) -}}
{{- end -}}
{{- $n := regexFind "^[0-9]+" $q | atoi -}}
{{- $unit := trimPrefix (toString $n) $q -}}
{{- $mult := get (dict "" 1 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000) $unit -}}
{{- div (mul $n $mult (int .goMemLimitPercent)) 100 -}}
{{- end -}}
