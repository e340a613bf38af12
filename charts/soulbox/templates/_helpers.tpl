{{/*
The chart name, cut to 63 characters (a label value's limit).
*/}}
{{- define "soulbox.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object name: <release>-soulbox, or the release name alone when it already
says soulbox. Cut to 63 characters because some names become label values.
*/}}
{{- define "soulbox.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "soulbox.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "soulbox.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: soulbox
{{- end }}

{{/*
The operator pods' labels that the Deployment and the metrics Service select on (never change
them in an upgrade: a Deployment's selector is immutable).
*/}}
{{- define "soulbox.selectorLabels" -}}
app.kubernetes.io/name: {{ include "soulbox.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/*
The operator's ServiceAccount name.
*/}}
{{- define "soulbox.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "soulbox.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false: name an existing ServiceAccount" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The operator image reference; an empty tag means the chart's appVersion.
*/}}
{{- define "soulbox.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
Rules that span several values (the schema checks each value alone). Rendered by the Deployment
so that a bad combination stops the install with a message that says what to change.
*/}}
{{- define "soulbox.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail (printf "replicaCount is %d but leaderElection.enabled is false: replicas without leader election would all reconcile the same Sandboxes. Enable leader election or set replicaCount to 1." (int .Values.replicaCount)) }}
{{- end }}
{{- if eq (int .Values.metrics.port) (int .Values.health.port) }}
{{- fail (printf "metrics.port and health.port are both %d: the chart declares them as two container ports, which must differ. Choose two different ports." (int .Values.metrics.port)) }}
{{- end }}
{{- end }}
