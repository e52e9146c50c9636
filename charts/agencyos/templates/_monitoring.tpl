{{/*
The Prometheus Operator's PodMonitor of one deployable (monitoring.podMonitor.enabled): its
pods' /metrics on the metrics port where the pod has one (the gateway: its public port never
serves /metrics), else on the HTTP port. `honorLabels` keeps the `service` label the code puts on
every series; `up` gets `service` and `part_of` from the pods' labels, which the platform alerts
(AgencyOSServiceDown, AgencyOSTargetDown, AgencyOSMetricsAbsent) select on.
*/}}
{{- define "agencyos.podMonitor" -}}
{{- $monitoring := .root.Values.monitoring -}}
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata:
  name: {{ .fullName }}
  labels:
    {{- include "agencyos.labels" . | nindent 4 }}
    {{- with $monitoring.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "agencyos.selectorLabels" . | nindent 6 }}
  podMetricsEndpoints:
    - port: {{ ternary "metrics" "http" (not (empty .svc.ports.metrics)) }}
      path: /metrics
      interval: {{ $monitoring.podMonitor.interval }}
      scrapeTimeout: {{ $monitoring.podMonitor.scrapeTimeout }}
      honorLabels: true
      relabelings:
        - sourceLabels: [__meta_kubernetes_pod_label_app_kubernetes_io_component]
          targetLabel: service
        - sourceLabels: [__meta_kubernetes_pod_label_app_kubernetes_io_part_of]
          targetLabel: part_of
{{- end -}}
