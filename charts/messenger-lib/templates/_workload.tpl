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
{{- if not $v.amqp.urlSecret.name -}}
{{- fail (printf "%s: amqp.urlSecret.name or global.rabbitmq.urlSecret.name is required (the Secret with AMQP_URL)" .svc) -}}
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
  {{- if $v.database.name }}
  MYSQL_ADDR: {{ printf "%s:%d" $v.database.host (int $v.database.port) | quote }}
  MYSQL_DATABASE: {{ $v.database.name | quote }}
  MYSQL_USER: {{ $v.database.user | default .svc | quote }}
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
            - name: AMQP_URL
              valueFrom:
                secretKeyRef:
                  name: {{ $v.amqp.urlSecret.name }}
                  key: {{ $v.amqp.urlSecret.key }}
            {{- if $v.database.name }}
            - name: MYSQL_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ $v.database.passwordSecret.name }}
                  key: {{ $v.database.passwordSecret.key }}
            {{- end }}
            {{- if $v.signingKeys.secretName }}
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
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $v.tmpSizeLimit }}
{{- end -}}

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
      relabelings:
        - action: replace
          targetLabel: job
          replacement: simplemessenger
{{- end -}}
