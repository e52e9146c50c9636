{{/* Names, labels and small shared pieces used by _service.tpl. */}}

{{- define "agencyos.fullname" -}}
{{- if contains "agencyos" .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-agencyos" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Name of one service's objects. Call with (dict "root" $ "name" "crm"). */}}
{{- define "agencyos.serviceName" -}}
{{- printf "%s-%s" (include "agencyos.fullname" .root) .name -}}
{{- end -}}

{{- define "agencyos.configName" -}}
{{- printf "%s-config" (include "agencyos.fullname" .) -}}
{{- end -}}

{{/* Labels every pod of this release carries; NetworkPolicies select on them. */}}
{{- define "agencyos.releaseLabels" -}}
app.kubernetes.io/part-of: agencyos
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector of one service's pods. Call with (dict "root" $ "name" "crm"). */}}
{{- define "agencyos.selectorLabels" -}}
app.kubernetes.io/name: agencyos
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* Full label set. Call with (dict "root" $ "name" "crm" "tag" "1.2.3"). */}}
{{- define "agencyos.labels" -}}
{{ include "agencyos.selectorLabels" . }}
app.kubernetes.io/part-of: agencyos
app.kubernetes.io/version: {{ .tag | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/*
Deep merge that, unlike sprig's merge/mergeOverwrite, lets `false` and `0` in the override win.
Call with (dict "base" $defaults "over" $block); returns YAML (pipe through fromYaml).
*/}}
{{- define "agencyos.merge" -}}
{{- $out := deepCopy .base -}}
{{- range $key, $value := .over -}}
{{- $current := get $out $key -}}
{{- if and (kindIs "map" $value) (kindIs "map" $current) -}}
{{- $_ := set $out $key (include "agencyos.merge" (dict "base" $current "over" $value) | fromYaml) -}}
{{- else -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The image tag of a service block: its own, else the global one, else appVersion. */}}
{{- define "agencyos.tag" -}}
{{- .svc.image.tag | default .root.Values.global.image.tag | default .root.Chart.AppVersion -}}
{{- end -}}

{{/* Pod-level security: the image's fixed non-root uid (deploy/docker/Dockerfile). */}}
{{- define "agencyos.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "agencyos.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* Settings shared by Deployments and migration Jobs (which run before the ConfigMap exists). */}}
{{- define "agencyos.baseEnv" -}}
AGENCYOS_POSTGRES_HOST: {{ .Values.global.postgres.host | quote }}
AGENCYOS_POSTGRES_PORT: {{ .Values.global.postgres.port | quote }}
AGENCYOS_LOG_LEVEL: {{ .Values.global.logLevel | quote }}
AGENCYOS_ENVIRONMENT: {{ .Values.global.environment | quote }}
{{- with .Values.global.publicBaseUrl }}
AGENCYOS_PUBLIC_BASE_URL: {{ . | quote }}
{{- end }}
{{- with .Values.global.otlpEndpoint }}
AGENCYOS_OTLP_ENDPOINT: {{ . | quote }}
{{- end }}
AGENCYOS_TRACE_SAMPLE_RATIO: {{ .Values.global.traceSampleRatio | toString | quote }}
{{- end -}}

{{/* A Service's in-cluster HTTP and gRPC addresses, for the ConfigMap. */}}
{{- define "agencyos.upstreamEnv" -}}
{{- $root := . -}}
{{- range $name, $block := .Values.services }}
{{- if $block.enabled }}
{{- $host := include "agencyos.serviceName" (dict "root" $root "name" $name) }}
AGENCYOS_{{ upper $name }}_GRPC_TARGET: {{ printf "%s:%v" $host $block.ports.grpc | quote }}
AGENCYOS_GATEWAY_{{ upper $name }}_URL: {{ printf "http://%s:%v" $host $block.ports.http | quote }}
{{- end }}
{{- end }}
{{- /* `GET /v1/stream` goes to the stream pods when they are deployed, else to notification. */}}
{{- if include "agencyos.streamDeployed" . }}
{{- $host := include "agencyos.serviceName" (dict "root" $root "name" "notification-stream") }}
AGENCYOS_GATEWAY_STREAM_URL: {{ printf "http://%s:%v" $host .Values.services.notification.ports.http | quote }}
{{- end }}
{{- end -}}

{{/* Non-empty when the notification-stream server is rendered (values `servers`). */}}
{{- define "agencyos.streamDeployed" -}}
{{- $stream := get (.Values.servers | default dict) "notification-stream" | default dict -}}
{{- if and $stream.enabled .Values.services.notification.enabled -}}true{{- end -}}
{{- end -}}

{{- define "agencyos.jwksUrl" -}}
{{- if .Values.global.jwksUrl -}}
{{- .Values.global.jwksUrl -}}
{{- else -}}
{{- $identity := include "agencyos.serviceName" (dict "root" . "name" "identity") -}}
{{- printf "http://%s:%v/.well-known/jwks.json" $identity .Values.services.identity.ports.http -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the service credential: the existing one, else the chart's own (rendered
only when a value is given); empty when neither is set. */}}
{{- define "agencyos.serviceCredentialSecret" -}}
{{- $credential := .Values.global.secrets.serviceCredential -}}
{{- if $credential.existingSecret -}}
{{- $credential.existingSecret -}}
{{- else if $credential.value -}}
{{- printf "%s-service-credential" (include "agencyos.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
The gateway's trusted proxies as JSON: gateway.trustedProxies when set (a list, [] included);
when null, the private networks the ingress controller's pods live in if the ingress is
enabled, else none.
*/}}
{{- define "agencyos.trustedProxies" -}}
{{- $trusted := .Values.gateway.trustedProxies -}}
{{- if kindIs "invalid" $trusted -}}
{{- if .Values.gateway.ingress.enabled -}}
{{- $trusted = list "10.0.0.0/8" "172.16.0.0/12" "192.168.0.0/16" "fc00::/7" -}}
{{- else -}}
{{- $trusted = list -}}
{{- end -}}
{{- end -}}
{{- $trusted | toJson -}}
{{- end -}}

{{/*
The settings each service refuses to start in production with at their development default,
that come from the shared Secret (global.secrets.shared). The rest of the services'
development secrets are chart values (global.publicBaseUrl, global.secrets.serviceCredential).
charts/tests/test_chart_production.py keeps this list equal to the services' own.
*/}}
{{- define "agencyos.sharedSecretKeys" -}}
billing: [AGENCYOS_BILLING_STRIPE_API_KEY, AGENCYOS_BILLING_STRIPE_API_BASE, AGENCYOS_BILLING_STRIPE_WEBHOOK_SECRET, AGENCYOS_BILLING_DOCUMENT_SIGNING_KEY]
identity: [AGENCYOS_IDENTITY_KEY_ENCRYPTION_KEY]
notification: [AGENCYOS_NOTIFICATION_SMTP_HOST, AGENCYOS_NOTIFICATION_UNSUBSCRIBE_SIGNING_KEY, AGENCYOS_NOTIFICATION_WEBHOOK_SECRET_KEY]
{{- end -}}

{{/*
A production install (global.environment: production) refuses to render without what the
services would refuse to start without: the public URL and the shared Secret's name. The
services check the Secret's values themselves at startup (a development default is refused).
*/}}
{{- define "agencyos.productionCheck" -}}
{{- if eq .Values.global.environment "production" -}}
{{- $_ := required "global.publicBaseUrl is required in production: every link in an email (sign-in, invoices, portal) starts with it. Set it to the address people reach the API at, or set global.environment: development for a throwaway cluster." .Values.global.publicBaseUrl -}}
{{- if not .Values.global.secrets.shared -}}
{{- $keys := list -}}
{{- range $service, $names := include "agencyos.sharedSecretKeys" . | fromYaml -}}
{{- if (get $.Values.services $service).enabled -}}
{{- $keys = concat $keys $names -}}
{{- end -}}
{{- end -}}
{{- fail (printf "global.secrets.shared is required in production: name the Secret that holds %s (the services refuse their development defaults in production)." (join ", " $keys)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Object storage for files (global.objectStorage) as EnvVar entries, for the pods of services
that keep files (`objectStorage: true`). In production the bucket is required, and the keys
come from an existing Secret or the pod's IAM role (`useIamRole`: both keys empty, so boto3's
default chain answers); anything else fails the render rather than start on development keys.
*/}}
{{- define "agencyos.objectStorageEnv" -}}
{{- $s3 := .Values.global.objectStorage -}}
{{- if eq (lower .Values.global.environment) "production" -}}
{{- $_ := required "global.objectStorage.bucket is required in production (the files bucket)" $s3.bucket -}}
{{- if not (or $s3.existingSecret $s3.useIamRole) -}}
{{- fail "global.objectStorage needs existingSecret (holding the S3 keys) or useIamRole: true in production" -}}
{{- end -}}
{{- end }}
- name: AGENCYOS_S3_ENDPOINT_URL
  value: {{ $s3.endpointUrl | quote }}
- name: AGENCYOS_S3_PUBLIC_ENDPOINT_URL
  value: {{ $s3.publicEndpointUrl | quote }}
- name: AGENCYOS_S3_REGION
  value: {{ $s3.region | quote }}
{{- with $s3.bucket }}
- name: AGENCYOS_S3_BUCKET
  value: {{ . | quote }}
{{- end }}
{{- if $s3.existingSecret }}
- name: AGENCYOS_S3_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ $s3.existingSecret }}
      key: {{ $s3.accessKeyIdKey }}
- name: AGENCYOS_S3_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $s3.existingSecret }}
      key: {{ $s3.secretAccessKeyKey }}
{{- else if $s3.useIamRole }}
- name: AGENCYOS_S3_ACCESS_KEY_ID
  value: ""
- name: AGENCYOS_S3_SECRET_ACCESS_KEY
  value: ""
{{- end }}
{{- end -}}

{{/*
Pre-flight against the cluster (helm install/upgrade; `helm template` has no cluster, and then
`lookup` answers nothing and this checks nothing): every enabled service's database Secret
exists with the keys the pods and the migration Job read, so an install fails at once naming
what is missing instead of leaving pods in CreateContainerConfigError and the migration hook
waiting for its deadline.
*/}}
{{- define "agencyos.preflight" -}}
{{- $secrets := lookup "v1" "Secret" .Release.Namespace "" -}}
{{- if $secrets -}}
{{- $present := dict -}}
{{- range $secret := ($secrets.items | default list) -}}
{{- $_ := set $present $secret.metadata.name ($secret.data | default dict) -}}
{{- end -}}
{{- $keys := list .Values.global.secrets.databaseUrlKey .Values.global.secrets.migrationDatabaseUrlKey -}}
{{- if .Values.global.postgres.pgbouncer -}}
{{- $keys = append $keys .Values.global.secrets.directDatabaseUrlKey -}}
{{- end -}}
{{- $missing := list -}}
{{- range $name, $block := .Values.services -}}
{{- if $block.enabled -}}
{{- $svc := include "agencyos.merge" (dict "base" $.Values.serviceDefaults "over" $block) | fromYaml -}}
{{- $secretName := include "agencyos.databaseSecret" (dict "root" $ "name" $name "svc" $svc) -}}
{{- if not (hasKey $present $secretName) -}}
{{- $missing = append $missing (printf "Secret %s" $secretName) -}}
{{- else -}}
{{- range $key := $keys -}}
{{- if not (hasKey (get $present $secretName) $key) -}}
{{- $missing = append $missing (printf "key %s of Secret %s" $key $secretName) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $missing -}}
{{- fail (printf "missing in namespace %s: %s (deploy/k8s/README.md, step 4, shows how to create them)" $.Release.Namespace (join ", " $missing)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
