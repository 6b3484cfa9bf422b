{{/*
Names and labels. A service is identified by its chart name (gateway, auth, profiles, friends, messages); its
objects are named "<release>-<service>", so a caller can compute a callee's Service name without looking it up.
*/}}

{{/* The service's name: the chart name. */}}
{{- define "messenger-lib.service" -}}
{{- .Chart.Name -}}
{{- end -}}

{{/* The name of a service's objects in this release: messenger-lib.fullname (dict "ctx" $ "service" "auth"). */}}
{{- define "messenger-lib.serviceFullname" -}}
{{- printf "%s-%s" .ctx.Release.Name .service | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* This service's object name. */}}
{{- define "messenger-lib.fullname" -}}
{{- include "messenger-lib.serviceFullname" (dict "ctx" . "service" (include "messenger-lib.service" .)) -}}
{{- end -}}

{{/*
Selector labels (bitnami common.labels.matchLabels): never change them, a Deployment's selector is immutable.
messenger-lib.selectorLabelsFor (dict "ctx" $ "service" "auth") gives another service's, for NetworkPolicies.
*/}}
{{- define "messenger-lib.selectorLabelsFor" -}}
app.kubernetes.io/name: {{ .service }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}

{{- define "messenger-lib.selectorLabels" -}}
{{- include "messenger-lib.selectorLabelsFor" (dict "ctx" . "service" (include "messenger-lib.service" .)) -}}
{{- end -}}

{{/* Every object's labels: the selector labels plus version, component and chart. */}}
{{- define "messenger-lib.labels" -}}
{{ include "messenger-lib.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: {{ include "messenger-lib.service" . }}
app.kubernetes.io/part-of: simplemessenger
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}
