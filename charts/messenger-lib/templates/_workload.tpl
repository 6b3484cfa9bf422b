{{/*
The whole standard workload of one service. A service chart's only template is:
  {{ include "messenger-lib.workload" . }}
*/}}
{{- define "messenger-lib.workload" -}}
{{- $v := include "messenger-lib.values" . | fromYaml -}}
{{- $svc := include "messenger-lib.service" . -}}
{{- $ports := include "messenger-lib.portsOf" (dict "service" $svc) | fromYaml -}}
{{- $ctx := dict "ctx" . "v" $v "svc" $svc "ports" $ports -}}
{{- include "messenger-lib.checks" $ctx }}
{{- /* Installed on its own (not from the umbrella, which checks every service at once): its own Secrets. */ -}}
{{- if .Chart.IsRoot }}
{{- include "messenger-lib.requireObjects" (dict "ctx" . "objects" (include "messenger-lib.requiredObjects" $ctx | fromYamlArray)) }}
{{- end }}
{{- if eq $v.signingKeys.source "generated" }}
{{ include "messenger-lib.signingKeysSecret" $ctx }}
---
{{- end }}
{{ include "messenger-lib.serviceAccount" $ctx }}
---
{{ include "messenger-lib.configMap" $ctx }}
---
{{ include "messenger-lib.kubeService" $ctx }}
---
{{ include "messenger-lib.deployment" $ctx }}
{{- if $v.podDisruptionBudget.enabled }}
---
{{ include "messenger-lib.pdb" $ctx }}
{{- end }}
{{- if $v.autoscaling.enabled }}
---
{{ include "messenger-lib.hpa" $ctx }}
{{- end }}
{{- if $v.networkPolicy.enabled }}
---
{{ include "messenger-lib.networkPolicy" $ctx }}
{{- end }}
{{- if and $v.serviceMonitor.enabled (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") }}
---
{{ include "messenger-lib.serviceMonitor" $ctx }}
{{- end }}
{{- if and $v.serviceMonitor.enabled $v.serviceMonitor.reachability (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1alpha1/ScrapeConfig") }}
---
{{ include "messenger-lib.reachabilityScrape" $ctx }}
{{- end }}
{{- end -}}

{{/* Refuse values that would render a workload that cannot run. */}}
{{- define "messenger-lib.checks" -}}
{{- $v := .v -}}
{{- if and $v.database.name (not $v.database.passwordSecret.name) -}}
{{- fail (printf "%s: database.passwordSecret.name is required (the Secret with the MySQL password; never a value in clear)" .svc) -}}
{{- end -}}
{{- if and $v.database.name (not $v.database.host) -}}
{{- fail (printf "%s: database.host or global.mysql.host is required" .svc) -}}
{{- end -}}
{{- if and (not $v.amqp.url) (not $v.amqp.urlSecret.name) -}}
{{- fail (printf "%s: amqp.urlSecret.name or global.rabbitmq.urlSecret.name is required (the Secret with AMQP_URL), or global.rabbitmq.host with credentialsSecret" .svc) -}}
{{- end -}}
{{- if and $v.amqp.url (not $v.amqp.credentialsSecret.name) -}}
{{- fail (printf "%s: global.rabbitmq.host is set, so global.rabbitmq.credentialsSecret.name (or amqp.credentialsSecret.name) is required: the Secret with the RabbitMQ user's username and password" .svc) -}}
{{- end -}}
{{- if $v.database.name -}}
{{- $tls := $v.database.tls -}}
{{- if not (has $tls.mode (list "false" "true" "skip-verify" "preferred")) -}}
{{- fail (printf "%s: MySQL TLS mode %q is none of false, true, skip-verify, preferred (global.mysql.tls.mode or database.tls.mode)" .svc $tls.mode) -}}
{{- end -}}
{{- if and $tls.ca.secretName $tls.ca.configMapName -}}
{{- fail (printf "%s: the MySQL CA comes from a Secret or a ConfigMap, not both (tls.ca.secretName %q, tls.ca.configMapName %q)" .svc $tls.ca.secretName $tls.ca.configMapName) -}}
{{- end -}}
{{- if and (or $tls.ca.secretName $tls.ca.configMapName) (ne $tls.mode "true") -}}
{{- fail (printf "%s: a MySQL CA is given, so the TLS mode must be true (it is %q): the CA is only used to verify the server" .svc $tls.mode) -}}
{{- end -}}
{{- end -}}
{{- if and $v.autoscaling.enabled (gt (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) -}}
{{- fail (printf "%s: autoscaling.minReplicas is above maxReplicas" .svc) -}}
{{- end -}}
{{- range $c := concat $v.networkPolicy.callers $v.networkPolicy.callees -}}
{{- $_ := include "messenger-lib.portsOf" (dict "service" $c) -}}
{{- end -}}
{{- end -}}

{{- define "messenger-lib.meta" -}}
name: {{ include "messenger-lib.fullname" .ctx }}
namespace: {{ .ctx.Release.Namespace }}
labels:
  {{- include "messenger-lib.labels" .ctx | nindent 2 }}
{{- end -}}

{{- define "messenger-lib.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  {{- include "messenger-lib.meta" . | nindent 2 }}
# The services never talk to the Kubernetes API.
automountServiceAccountToken: false
{{- end -}}

{{/*
Plain settings as a ConfigMap (secrets come from Secrets, in the Deployment). Every service listens on all
interfaces on its fixed ports; the callees' URLs name their Services in this release.
*/}}
{{- define "messenger-lib.configMap" -}}
{{- $v := .v -}}
{{- $ctx := .ctx -}}
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "messenger-lib.meta" . | nindent 2 }}
data:
  HTTP_ADDR: {{ printf ":%d" (int .ports.http) | quote }}
  ADMIN_ADDR: {{ printf ":%d" (int .ports.admin) | quote }}
  LOG_LEVEL: {{ $v.logLevel | quote }}
  {{- if ne .svc "auth" }}
  {{- $auth := include "messenger-lib.portsOf" (dict "service" "auth") | fromYaml }}
  AUTH_JWKS_URL: {{ printf "http://%s:%d%s" (include "messenger-lib.serviceFullname" (dict "ctx" $ctx "service" "auth")) (int $auth.http) (include "messenger-lib.jwksPath" .) | quote }}
  {{- end }}
  {{- range $callee := $v.networkPolicy.callees }}
  {{- $p := include "messenger-lib.portsOf" (dict "service" $callee) | fromYaml }}
  {{ printf "%s_URL" (upper $callee) }}: {{ printf "http://%s:%d" (include "messenger-lib.serviceFullname" (dict "ctx" $ctx "service" $callee)) (int $p.http) | quote }}
  {{- end }}
  {{- with $v.amqp.exchange }}
  AMQP_EXCHANGE: {{ . | quote }}
  {{- end }}
  {{- with $v.amqp.url }}
  AMQP_URL: {{ . | quote }}
  {{- end }}
  {{- if $v.database.name }}
  MYSQL_ADDR: {{ printf "%s:%d" $v.database.host (int $v.database.port) | quote }}
  MYSQL_DATABASE: {{ $v.database.name | quote }}
  {{- if not $v.database.passwordSecret.usernameKey }}
  MYSQL_USER: {{ $v.database.user | quote }}
  {{- end }}
  {{- if ne $v.database.tls.mode "false" }}
  MYSQL_TLS: {{ $v.database.tls.mode | quote }}
  {{- end }}
  {{- if or $v.database.tls.ca.secretName $v.database.tls.ca.configMapName }}
  MYSQL_TLS_CA: {{ include "messenger-lib.mysqlCAPath" . | quote }}
  {{- end }}
  {{- end }}
  {{- if $v.otel.endpoint }}
  OTEL_EXPORTER_OTLP_ENDPOINT: {{ $v.otel.endpoint | quote }}
  OTEL_EXPORTER_OTLP_PROTOCOL: {{ $v.otel.protocol | quote }}
  {{- end }}
  {{- range $name, $value := $v.env }}
  {{ $name }}: {{ toString $value | quote }}
  {{- end }}
{{- end -}}

{{- define "messenger-lib.kubeService" -}}
apiVersion: v1
kind: Service
metadata:
  {{- include "messenger-lib.meta" . | nindent 2 }}
spec:
  type: ClusterIP
  selector:
    {{- include "messenger-lib.selectorLabels" .ctx | nindent 4 }}
  ports:
    - name: http
      port: {{ .ports.http }}
      targetPort: http
      protocol: TCP
      appProtocol: http
    - name: admin
      port: {{ .ports.admin }}
      targetPort: admin
      protocol: TCP
      appProtocol: http
{{- end -}}

{{- define "messenger-lib.deployment" -}}
{{- $v := .v -}}
{{- $ctx := .ctx -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  {{- include "messenger-lib.meta" . | nindent 2 }}
spec:
  {{- if not $v.autoscaling.enabled }}
  replicas: {{ int $v.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "messenger-lib.selectorLabels" $ctx | nindent 6 }}
  # A new pod must be ready (migrated, connected) before an old one goes: the old version serves meanwhile.
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  template:
    metadata:
      labels:
        {{- include "messenger-lib.labels" $ctx | nindent 8 }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include "messenger-lib.configMap" . | sha256sum }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "messenger-lib.fullname" $ctx }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ int $v.terminationGracePeriodSeconds }}
      {{- with $v.imagePullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        fsGroup: 65532
        seccompProfile:
          type: RuntimeDefault
      {{- if $v.topologySpread.enabled }}
      topologySpreadConstraints:
        {{- range $key := list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
        - maxSkew: 1
          topologyKey: {{ $key }}
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "messenger-lib.selectorLabels" $ctx | nindent 14 }}
          matchLabelKeys:
            - pod-template-hash
        {{- end }}
      {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .svc }}
          image: {{ include "messenger-lib.image" $v | quote }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ .ports.http }}
              protocol: TCP
            - name: admin
              containerPort: {{ .ports.admin }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ include "messenger-lib.fullname" $ctx }}
          env:
            - name: GOMEMLIMIT
              value: {{ include "messenger-lib.goMemLimit" $v | quote }}
            {{- if $v.amqp.url }}
            - name: AMQP_USERNAME
              valueFrom:
                secretKeyRef:
                  name: {{ $v.amqp.credentialsSecret.name }}
                  key: {{ $v.amqp.credentialsSecret.usernameKey }}
            - name: AMQP_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ $v.amqp.credentialsSecret.name }}
                  key: {{ $v.amqp.credentialsSecret.passwordKey }}
            {{- else }}
            - name: AMQP_URL
              valueFrom:
                secretKeyRef:
                  name: {{ $v.amqp.urlSecret.name }}
                  key: {{ $v.amqp.urlSecret.key }}
            {{- end }}
            {{- if $v.database.name }}
            {{- with $v.database.passwordSecret.usernameKey }}
            - name: MYSQL_USER
              valueFrom:
                secretKeyRef:
                  name: {{ $v.database.passwordSecret.name }}
                  key: {{ . }}
            {{- end }}
            - name: MYSQL_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ $v.database.passwordSecret.name }}
                  key: {{ $v.database.passwordSecret.key }}
            {{- end }}
            {{- if has $v.signingKeys.source (list "secret" "generated") }}
            - name: AUTH_SIGNING_KEYS
              valueFrom:
                secretKeyRef:
                  name: {{ $v.signingKeys.secretName }}
                  key: {{ $v.signingKeys.key }}
            {{- end }}
            - name: OTEL_SERVICE_NAME
              value: {{ .svc | quote }}
            - name: K8S_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            - name: K8S_POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: OTEL_RESOURCE_ATTRIBUTES
              value: {{ printf "service.namespace=simplemessenger,service.version=%s,k8s.namespace.name=$(K8S_NAMESPACE),k8s.pod.name=$(K8S_POD_NAME)%s" (toString $v.image.tag) (ternary (printf ",%s" $v.otel.resourceAttributes) "" (ne $v.otel.resourceAttributes "")) | quote }}
          # Startup: migrations run before the servers listen; allow them up to 3 minutes.
          startupProbe:
            httpGet:
              path: {{ include "messenger-lib.healthPath" . }}
              port: admin
            periodSeconds: 5
            failureThreshold: 36
            timeoutSeconds: 2
          livenessProbe:
            httpGet:
              path: {{ include "messenger-lib.healthPath" . }}
              port: admin
            periodSeconds: 10
            failureThreshold: 3
            timeoutSeconds: 2
          # Ready only when MySQL and the broker answer; unready as soon as SIGTERM arrives.
          readinessProbe:
            httpGet:
              path: {{ include "messenger-lib.readyPath" . }}
              port: admin
            periodSeconds: 5
            failureThreshold: 2
            timeoutSeconds: 2
          lifecycle:
            # Let endpoints drop the pod before the process stops accepting.
            preStop:
              sleep:
                seconds: 5
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            runAsNonRoot: true
            runAsUser: 65532
            runAsGroup: 65532
            readOnlyRootFilesystem: true
            allowPrivilegeEscalation: false
            privileged: false
            capabilities:
              drop: ["ALL"]
            seccompProfile:
              type: RuntimeDefault
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if and $v.database.name (or $v.database.tls.ca.secretName $v.database.tls.ca.configMapName) }}
            - name: mysql-ca
              mountPath: {{ include "messenger-lib.mysqlCADir" . }}
              readOnly: true
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $v.tmpSizeLimit }}
        {{- if $v.database.name }}
        {{- $ca := $v.database.tls.ca }}
        {{- if $ca.secretName }}
        - name: mysql-ca
          secret:
            secretName: {{ $ca.secretName }}
            items:
              - {key: {{ $ca.key | quote }}, path: ca.crt}
        {{- else if $ca.configMapName }}
        - name: mysql-ca
          configMap:
            name: {{ $ca.configMapName }}
            items:
              - {key: {{ $ca.key | quote }}, path: ca.crt}
        {{- end }}
        {{- end }}
{{- end -}}

{{/* Where the MySQL CA certificate is mounted (MYSQL_TLS_CA). */}}
{{- define "messenger-lib.mysqlCADir" -}}/etc/messenger/mysql-ca{{- end -}}
{{- define "messenger-lib.mysqlCAPath" -}}{{ include "messenger-lib.mysqlCADir" . }}/ca.crt{{- end -}}

{{- define "messenger-lib.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  {{- include "messenger-lib.meta" . | nindent 2 }}
spec:
  maxUnavailable: {{ .v.podDisruptionBudget.maxUnavailable }}
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels:
      {{- include "messenger-lib.selectorLabels" .ctx | nindent 6 }}
{{- end -}}

{{- define "messenger-lib.hpa" -}}
{{- $a := .v.autoscaling -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  {{- include "messenger-lib.meta" . | nindent 2 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "messenger-lib.fullname" .ctx }}
  minReplicas: {{ int $a.minReplicas }}
  maxReplicas: {{ int $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ int $a.targetCPUUtilizationPercentage }}
  {{- with $a.behavior }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
The Service's own address as one more target (job="simplemessenger-reachability", every sample dropped: only
`up` is kept). A pod target vanishes with its pod, and Prometheus marks its series stale only about two scrape
intervals later; this target stays, and its scrape fails (nothing behind the Service) at the first scrape after
the last pod stops answering. It is scraped more often than the pods (reachabilityInterval, 5 s) with a short
timeout (a Service without endpoints may drop the connection rather than refuse it), so ServiceDown fires within
its `for` plus less than one of the pods' scrape intervals.
*/}}
{{- define "messenger-lib.reachabilityScrape" -}}
apiVersion: monitoring.coreos.com/v1alpha1
kind: ScrapeConfig
metadata:
  name: {{ include "messenger-lib.fullname" .ctx }}-reachability
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "messenger-lib.labels" .ctx | nindent 4 }}
    {{- with .v.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  staticConfigs:
    - targets: [{{ printf "%s.%s.svc:%d" (include "messenger-lib.fullname" .ctx) .ctx.Release.Namespace (int .ports.admin) | quote }}]
      labels:
        service: {{ .svc }}
  metricsPath: {{ include "messenger-lib.metricsPath" . }}
  scrapeInterval: {{ .v.serviceMonitor.reachabilityInterval }}
  scrapeTimeout: {{ .v.serviceMonitor.reachabilityTimeout }}
  relabelings:
    - action: replace
      targetLabel: job
      replacement: simplemessenger-reachability
  metricRelabelings:
    - action: drop
      sourceLabels: [__name__]
      regex: .+
{{- end -}}

{{- define "messenger-lib.serviceMonitor" -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "messenger-lib.fullname" .ctx }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "messenger-lib.labels" .ctx | nindent 4 }}
    {{- with .v.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "messenger-lib.selectorLabels" .ctx | nindent 6 }}
  # Exemplars (trace ids on latency histograms) need OpenMetrics.
  scrapeProtocols: ["OpenMetricsText1.0.0", "PrometheusText0.0.4"]
  endpoints:
    - port: admin
      path: {{ include "messenger-lib.metricsPath" . }}
      scheme: http
      interval: {{ .v.serviceMonitor.interval }}
      scrapeTimeout: {{ .v.serviceMonitor.scrapeTimeout }}
      # The services label every series with their own `service`; keep it rather than the Kubernetes one.
      honorLabels: true
      # The rules and dashboards select job="simplemessenger" (as the local Prometheus config names it).
      # `service` is the service's name (gateway, ...), as on the series the services export and as the local
      # Prometheus config sets it, rather than the Kubernetes Service's name: ServiceDown counts targets by it.
      relabelings:
        - action: replace
          targetLabel: job
          replacement: simplemessenger
        - action: replace
          sourceLabels: [__meta_kubernetes_service_label_app_kubernetes_io_name]
          targetLabel: service
{{- end -}}
