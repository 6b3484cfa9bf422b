{{- define "messenger.gatewayName" -}}
{{- printf "%s-gateway" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of the umbrella's own objects (the gateway's Ingress and NodePort Service): not the gateway's selector
labels, so the gateway's ServiceMonitor never selects the NodePort Service. */}}
{{- define "messenger.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway-entry
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: simplemessenger
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/* The services of the umbrella, in the order their checks and tests list them. */}}
{{- define "messenger.services" -}}
gateway auth profiles friends messages
{{- end -}}

{{/*
A service's effective values, as its own chart renders them (messenger-lib.values on the subchart's scope:
its values.yaml, the overrides under its name here, the globals): (dict "ctx" $ "service" "auth").
*/}}
{{- define "messenger.serviceValues" -}}
{{- include "messenger-lib.values" (index .ctx.Subcharts .service) -}}
{{- end -}}

{{/* Labels of the objects of `helm test`: not a service's (name messenger), so no service's selector takes them. */}}
{{- define "messenger.testLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: helm-test
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: simplemessenger
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/*
What every service's pods reference and the chart does not make (messenger-lib.requiredObjects of each, as a
YAML list): templates/checks.yaml checks it against the cluster; deploy/verify checks that it covers every
reference of the rendered pods.
*/}}
{{- define "messenger.requiredObjects" -}}
{{- $objects := list -}}
{{- range $svc := include "messenger.services" . | splitList " " -}}
{{- $v := include "messenger.serviceValues" (dict "ctx" $ "service" $svc) | fromYaml -}}
{{- $objects = concat $objects (include "messenger-lib.requiredObjects" (dict "v" $v "svc" $svc) | fromYamlArray) -}}
{{- end -}}
{{- toYaml $objects -}}
{{- end -}}
