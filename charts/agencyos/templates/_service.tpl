{{/*
agencyos.service renders everything one AgencyOS deployable needs: ServiceAccount, Service,
Deployment (probes, security, env), PodDisruptionBudget, optional HorizontalPodAutoscaler,
NetworkPolicy and, when it has a database, the migration Job (a pre-install/pre-upgrade hook).

Call with (dict "root" $ "name" "crm" "svc" <block merged over serviceDefaults> "withDatabase" true).
A server mode deployed apart (values `servers`) adds "service" (whose image, settings and
database it uses: "notification") and "mode" (its argument: "stream"); "name" then names its
objects ("notification-stream"). Without them, "service" is "name" and the mode is `all`.
*/}}
{{- define "agencyos.service" -}}
{{- $ctx := dict "root" .root "name" .name "svc" .svc "withDatabase" .withDatabase -}}
{{- $_ := set $ctx "service" (.service | default .name) -}}
{{- $_ = set $ctx "mode" (.mode | default "") -}}
{{- $_ = set $ctx "fullName" (include "agencyos.serviceName" .) -}}
{{- $_ = set $ctx "tag" (include "agencyos.tag" .) -}}
{{- $svc := .svc -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $ctx.fullName }}
  labels:
    {{- include "agencyos.labels" $ctx | nindent 4 }}
automountServiceAccountToken: false
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $ctx.fullName }}
  labels:
    {{- include "agencyos.labels" $ctx | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "agencyos.selectorLabels" $ctx | nindent 4 }}
  ports:
    - name: http
      port: {{ $svc.ports.http }}
      targetPort: http
      protocol: TCP
      appProtocol: http
    {{- if $svc.ports.grpc }}
    - name: grpc
      port: {{ $svc.ports.grpc }}
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
    {{- end }}
---
{{ include "agencyos.deployment" $ctx }}
{{- if $svc.pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $ctx.fullName }}
  labels:
    {{- include "agencyos.labels" $ctx | nindent 4 }}
spec:
  maxUnavailable: {{ $svc.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "agencyos.selectorLabels" $ctx | nindent 6 }}
{{- end }}
{{- if $svc.autoscaling.enabled }}
{{- $partitions := int .root.Values.global.kafka.partitions }}
{{- if and .withDatabase (not $ctx.mode) (gt (int $svc.autoscaling.maxReplicas) $partitions) }}
{{- fail (printf "%s: autoscaling.maxReplicas (%d) is above global.kafka.partitions (%d): a consumer group uses at most one pod per partition, so pods past it would consume nothing. Raise the topics' partitions (deploy/k8s/kafka.yaml) and global.kafka.partitions first." .name (int $svc.autoscaling.maxReplicas) $partitions) }}
{{- end }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $ctx.fullName }}
  labels:
    {{- include "agencyos.labels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $ctx.fullName }}
  minReplicas: {{ $svc.autoscaling.minReplicas }}
  maxReplicas: {{ $svc.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $svc.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- if .root.Values.global.networkPolicy.enabled }}
---
{{ include "agencyos.networkPolicy" $ctx }}
{{- end }}
{{- if and .withDatabase $svc.migration.enabled }}
---
{{ include "agencyos.migrationJob" $ctx }}
{{- end }}
{{- if .root.Values.monitoring.podMonitor.enabled }}
---
{{ include "agencyos.podMonitor" $ctx }}
{{- end }}
{{- end -}}

{{/* The Deployment. Same context as agencyos.service plus fullName and tag. */}}
{{- define "agencyos.deployment" -}}
{{- $svc := .svc -}}
{{- $global := .root.Values.global -}}
{{- $envName := upper .service -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .fullName }}
  labels:
    {{- include "agencyos.labels" . | nindent 4 }}
spec:
  {{- if not $svc.autoscaling.enabled }}
  replicas: {{ $svc.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 0, maxSurge: 1}
  selector:
    matchLabels:
      {{- include "agencyos.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "agencyos.labels" . | nindent 8 }}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ $svc.ports.metrics | default $svc.ports.http | quote }}
        prometheus.io/path: /metrics
        checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
        {{- with $global.secrets.serviceCredential.value }}
        checksum/service-credential: {{ . | sha256sum }}
        {{- end }}
        {{- with $svc.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ .fullName }}
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: {{ $svc.terminationGracePeriodSeconds }}
      securityContext:
        {{- include "agencyos.podSecurityContext" . | nindent 8 }}
      {{- with $global.image.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      topologySpreadConstraints:
        {{- range list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
        - maxSkew: 1
          topologyKey: {{ . }}
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "agencyos.selectorLabels" $ | nindent 14 }}
          matchLabelKeys: [pod-template-hash]
        {{- end }}
      {{- with $svc.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .name }}
          image: {{ printf "%s/agencyos-%s:%s" $global.image.registry .service .tag | quote }}
          imagePullPolicy: {{ $global.image.pullPolicy }}
          args: {{ include "agencyos.args" . }}
          ports:
            - name: http
              containerPort: {{ $svc.ports.http }}
              protocol: TCP
            {{- if $svc.ports.grpc }}
            - name: grpc
              containerPort: {{ $svc.ports.grpc }}
              protocol: TCP
            {{- end }}
            {{- if $svc.ports.metrics }}
            - name: metrics
              containerPort: {{ $svc.ports.metrics }}
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ include "agencyos.configName" .root }}
            {{- with $global.secrets.shared }}
            - secretRef:
                name: {{ . }}
                optional: true
            {{- end }}
          env:
            - name: AGENCYOS_{{ $envName }}_HTTP_HOST
              value: "0.0.0.0"
            - name: AGENCYOS_{{ $envName }}_HTTP_PORT
              value: {{ $svc.ports.http | quote }}
            {{- if $svc.ports.grpc }}
            - name: AGENCYOS_{{ $envName }}_GRPC_PORT
              value: {{ $svc.ports.grpc | quote }}
            {{- end }}
            {{- if $svc.ports.metrics }}
            - name: AGENCYOS_{{ $envName }}_METRICS_PORT
              value: {{ $svc.ports.metrics | quote }}
            {{- end }}
            {{- with $svc.cors }}
            - name: AGENCYOS_{{ $envName }}_CORS_ORIGINS
              value: {{ .origins | default list | toJson | quote }}
            - name: AGENCYOS_{{ $envName }}_CORS_ALLOW_CREDENTIALS
              value: {{ .allowCredentials | quote }}
            - name: AGENCYOS_{{ $envName }}_CORS_MAX_AGE_SECONDS
              value: {{ .maxAgeSeconds | quote }}
            {{- end }}
            {{- if eq .name "gateway" }}
            - name: AGENCYOS_{{ $envName }}_TRUSTED_PROXIES
              value: {{ include "agencyos.trustedProxies" .root | quote }}
            {{- end }}
            {{- if .withDatabase }}
            - name: AGENCYOS_{{ $envName }}_DATABASE_URL
              valueFrom:
                secretKeyRef:
                  name: {{ include "agencyos.databaseSecret" . }}
                  key: {{ $global.secrets.databaseUrlKey }}
            - name: AGENCYOS_{{ $envName }}_DATABASE_POOL_SIZE
              value: {{ $svc.database.poolSize | quote }}
            {{- if $global.postgres.pgbouncer }}
            - name: AGENCYOS_{{ $envName }}_DATABASE_PGBOUNCER
              value: "true"
            - name: AGENCYOS_{{ $envName }}_LEADER_DATABASE_URL
              valueFrom:
                secretKeyRef:
                  name: {{ include "agencyos.databaseSecret" . }}
                  key: {{ $global.secrets.directDatabaseUrlKey }}
            {{- end }}
            {{- end }}
            {{- if ne .name "gateway" }}
            {{- with include "agencyos.serviceCredentialSecret" .root }}
            - name: AGENCYOS_SERVICE_CREDENTIAL
              valueFrom:
                secretKeyRef:
                  name: {{ . }}
                  key: {{ $global.secrets.serviceCredential.key }}
            {{- end }}
            {{- end }}
            {{- if $svc.objectStorage }}
            {{- include "agencyos.objectStorageEnv" .root | trim | nindent 12 }}
            {{- end }}
            {{- with include "agencyos.extraEnv" $svc | trim }}
            {{- . | nindent 12 }}
            {{- end }}
          startupProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 2
            failureThreshold: 30
          livenessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 10
            timeoutSeconds: 2
            failureThreshold: 3
          readinessProbe:
            httpGet: {path: /readyz, port: http}
            periodSeconds: 5
            timeoutSeconds: 2
            failureThreshold: 3
          {{- if $svc.preStopSleepSeconds }}
          lifecycle:
            preStop:
              sleep: {seconds: {{ $svc.preStopSleepSeconds }}}
          {{- end }}
          resources:
            {{- toYaml $svc.resources | nindent 12 }}
          securityContext:
            {{- include "agencyos.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir: {sizeLimit: 64Mi}
{{- end -}}

{{/*
`python -m <args>`: the gateway has one mode, services run all theirs in one process, and a
server deployed apart runs its own mode.
*/}}
{{- define "agencyos.args" -}}
{{- if eq .name "gateway" -}}
["agencyos.gateway"]
{{- else -}}
["agencyos.{{ .service }}", {{ .mode | default "all" | quote }}]
{{- end -}}
{{- end -}}

{{- define "agencyos.databaseSecret" -}}
{{- .svc.database.existingSecret | default (printf "%s%s" .root.Values.global.secrets.databasePrefix (.service | default .name)) -}}
{{- end -}}

{{/* A block's `env` map and `extraEnv` list as EnvVar entries. */}}
{{- define "agencyos.extraEnv" -}}
{{- range $key, $value := .env }}
- name: {{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- with .extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Who may talk to this service, and whom it may talk to. */}}
{{- define "agencyos.networkPolicy" -}}
{{- $svc := .svc -}}
{{- $policy := .root.Values.global.networkPolicy -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ .fullName }}
  labels:
    {{- include "agencyos.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "agencyos.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    # The gateway and the other AgencyOS pods of this release, on any port (HTTP and gRPC).
    - from:
        - podSelector:
            matchLabels:
              {{- include "agencyos.releaseLabels" .root | nindent 14 }}
    # Prometheus scrapes /metrics (on the metrics port where the pod has one).
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {{ $policy.monitoringNamespace }}
      ports:
        - {port: {{ ternary "metrics" "http" (not (empty $svc.ports.metrics)) }}, protocol: TCP}
    {{- with $svc.networkPolicy.extraIngressFrom }}
    - from:
        {{- toYaml . | nindent 8 }}
      ports:
        - {port: http, protocol: TCP}
    {{- end }}
  egress:
    - to:
        {{- toYaml $policy.dns.to | nindent 8 }}
      ports:
        {{- range $policy.dns.ports }}
        - {port: {{ . }}, protocol: UDP}
        - {port: {{ . }}, protocol: TCP}
        {{- end }}
    - to:
        - podSelector:
            matchLabels:
              {{- include "agencyos.releaseLabels" .root | nindent 14 }}
    {{- range $svc.networkPolicy.egressTo }}
    {{- $target := get $policy . }}
    - to:
        {{- toYaml $target.to | nindent 8 }}
      ports:
        {{- range $target.ports }}
        - {port: {{ . }}, protocol: TCP}
        {{- end }}
    {{- end }}
    {{- with concat $policy.extraEgress $svc.networkPolicy.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/*
The migration Job: `python -m agencyos.<svc> migrate` as the owner role, before the new pods
start. It runs before this release's ConfigMap and ServiceAccount exist, so it carries its own
environment and uses the namespace's default ServiceAccount without a token.
*/}}
{{- define "agencyos.migrationJob" -}}
{{- $svc := .svc -}}
{{- $global := .root.Values.global -}}
{{- $migration := $svc.migration -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .fullName }}-migrate
  labels:
    {{- include "agencyos.labels" (dict "root" .root "name" (printf "%s-migrate" .name) "tag" .tag) | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "0"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: {{ $migration.backoffLimit }}
  activeDeadlineSeconds: {{ $migration.activeDeadlineSeconds }}
  template:
    metadata:
      labels:
        {{- include "agencyos.labels" (dict "root" .root "name" (printf "%s-migrate" .name) "tag" .tag) | nindent 8 }}
    spec:
      restartPolicy: Never
      automountServiceAccountToken: false
      securityContext:
        {{- include "agencyos.podSecurityContext" . | nindent 8 }}
      {{- with $global.image.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      containers:
        - name: migrate
          image: {{ printf "%s/agencyos-%s:%s" $global.image.registry .name .tag | quote }}
          imagePullPolicy: {{ $global.image.pullPolicy }}
          args: ["agencyos.{{ .name }}", "migrate"]
          {{- with $global.secrets.shared }}
          envFrom:
            - secretRef:
                name: {{ . }}
                optional: true
          {{- end }}
          env:
            {{- range $key, $value := include "agencyos.baseEnv" .root | fromYaml }}
            - name: {{ $key }}
              value: {{ $value | quote }}
            {{- end }}
            - name: AGENCYOS_{{ upper .name }}_MIGRATION_DATABASE_URL
              valueFrom:
                secretKeyRef:
                  name: {{ include "agencyos.databaseSecret" . }}
                  key: {{ $global.secrets.migrationDatabaseUrlKey }}
            {{- with include "agencyos.extraEnv" $svc | trim }}
            {{- . | nindent 12 }}
            {{- end }}
          resources:
            {{- toYaml $migration.resources | nindent 12 }}
          securityContext:
            {{- include "agencyos.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir: {sizeLimit: 64Mi}
{{- end -}}
