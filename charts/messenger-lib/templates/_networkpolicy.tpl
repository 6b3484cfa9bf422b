{{/*
NetworkPolicy: default deny both ways, then
- ingress: the http port from anywhere for a public service (the gateway), else only from the callers listed in
  values; the admin port only from Prometheus;
- egress: DNS, MySQL (services with a database), RabbitMQ, the OTel collector (when tracing is on), the callees
  listed in values, and auth for its JWKS (every service verifies tokens).
*/}}
{{- define "messenger-lib.networkPolicy" -}}
{{- $v := .v -}}
{{- $ctx := .ctx -}}
{{- $peers := $v.networkPeers -}}
{{- $callees := $v.networkPolicy.callees -}}
{{- if and (ne .svc "auth") (not (has "auth" $callees)) -}}
{{- $callees = append $callees "auth" -}}
{{- end -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  {{- include "messenger-lib.meta" . | nindent 2 }}
spec:
  podSelector:
    matchLabels:
      {{- include "messenger-lib.selectorLabels" $ctx | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    {{- if $v.networkPolicy.public }}
    - ports:
        - {port: http, protocol: TCP}
    {{- else if $v.networkPolicy.callers }}
    - from:
        {{- range $caller := $v.networkPolicy.callers }}
        - podSelector:
            matchLabels:
              {{- include "messenger-lib.selectorLabelsFor" (dict "ctx" $ctx "service" $caller) | nindent 14 }}
        {{- end }}
      ports:
        - {port: http, protocol: TCP}
    {{- end }}
    - from:
        {{- toYaml $peers.prometheus.from | nindent 8 }}
      ports:
        - {port: admin, protocol: TCP}
  egress:
    - to:
        {{- toYaml $peers.dns.to | nindent 8 }}
      ports:
        {{- toYaml $peers.dns.ports | nindent 8 }}
    {{- if $v.database.name }}
    - to:
        {{- toYaml $peers.mysql.to | nindent 8 }}
      ports:
        - {port: {{ $v.database.port }}, protocol: TCP}
    {{- end }}
    - to:
        {{- toYaml $peers.rabbitmq.to | nindent 8 }}
      ports:
        {{- toYaml $peers.rabbitmq.ports | nindent 8 }}
    {{- if $v.otel.endpoint }}
    - to:
        {{- toYaml $peers.otel.to | nindent 8 }}
      ports:
        {{- toYaml $peers.otel.ports | nindent 8 }}
    {{- end }}
    {{- range $callee := $callees }}
    {{- $p := include "messenger-lib.portsOf" (dict "service" $callee) | fromYaml }}
    - to:
        - podSelector:
            matchLabels:
              {{- include "messenger-lib.selectorLabelsFor" (dict "ctx" $ctx "service" $callee) | nindent 14 }}
      ports:
        - {port: {{ int $p.http }}, protocol: TCP}
    {{- end }}
{{- end -}}
