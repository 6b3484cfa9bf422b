{{/*
What the platform fixes for every service, not values: ports, probe and metrics paths.
*/}}

{{- define "messenger-lib.ports" -}}
gateway: {http: 8080, admin: 9080}
auth: {http: 8081, admin: 9081}
profiles: {http: 8082, admin: 9082}
friends: {http: 8083, admin: 9083}
messages: {http: 8084, admin: 9084}
{{- end -}}

{{/* The ports of a service: (dict "service" "auth") -> {http: 8081, admin: 9081}; fails for an unknown one. */}}
{{- define "messenger-lib.portsOf" -}}
{{- $all := include "messenger-lib.ports" . | fromYaml -}}
{{- if not (hasKey $all .service) -}}
{{- fail (printf "messenger-lib: unknown service %q (known: %s)" .service (keys $all | sortAlpha | join ", ")) -}}
{{- end -}}
{{- get $all .service | toYaml -}}
{{- end -}}

{{- define "messenger-lib.healthPath" -}}/healthz{{- end -}}
{{- define "messenger-lib.readyPath" -}}/readyz{{- end -}}
{{- define "messenger-lib.metricsPath" -}}/metrics{{- end -}}
{{- define "messenger-lib.jwksPath" -}}/.well-known/jwks.json{{- end -}}
