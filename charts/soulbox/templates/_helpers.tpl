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
{{ include "soulbox.commonLabels" . }}
{{ include "soulbox.selectorLabels" . }}
{{- end }}

{{/*
Labels of every object, whichever component it belongs to.
*/}}
{{- define "soulbox.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: soulbox
{{- end }}

{{/*
Labels on the gateway's objects (component gateway instead of operator).
*/}}
{{- define "soulbox.gatewayLabels" -}}
{{ include "soulbox.commonLabels" . }}
{{ include "soulbox.gatewaySelectorLabels" . }}
{{- end }}

{{/*
The gateway pods' labels that its Deployment and Services select on (immutable, as the operator's).
*/}}
{{- define "soulbox.gatewaySelectorLabels" -}}
app.kubernetes.io/name: {{ include "soulbox.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}

{{/*
The gateway's name: its Deployment, Service (the one the SDK's traffic goes to) and ServiceAccount.
*/}}
{{- define "soulbox.gatewayName" -}}
{{- printf "%s-gateway" (include "soulbox.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The gateway image: gateway.image, or the operator's (the operator image carries the gateway).
*/}}
{{- define "soulbox.gatewayImage" -}}
{{- default (include "soulbox.image" .) .Values.gateway.image }}
{{- end }}

{{/*
The Secret holding the gateway's certificate for *.<domain>: gateway.tls.secretName, else the
name cert-manager writes to when it issues one, else empty (HTTPS off).
*/}}
{{- define "soulbox.gatewayTlsSecret" -}}
{{- if .Values.gateway.tls.secretName }}
{{- .Values.gateway.tls.secretName }}
{{- else if .Values.gateway.tls.certManager.enabled }}
{{- printf "%s-tls" (include "soulbox.gatewayName" .) }}
{{- end }}
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

{{/*
Rules over several gateway values, rendered by the gateway Deployment.
*/}}
{{- define "soulbox.validateGateway" -}}
{{- $g := .Values.gateway }}
{{- if gt (int $g.defaultTimeoutSeconds) (int $g.maxTimeoutSeconds) }}
{{- fail (printf "gateway.defaultTimeoutSeconds (%d) is over gateway.maxTimeoutSeconds (%d): every sandbox created without a timeout would be refused. Lower the default or raise the maximum." (int $g.defaultTimeoutSeconds) (int $g.maxTimeoutSeconds)) }}
{{- end }}
{{- $ports := list (int $g.ports.http) (int $g.ports.https) (int $g.ports.health) }}
{{- if ne (len (uniq $ports)) 3 }}
{{- fail (printf "gateway.ports.http, .https and .health must be three different ports, not %v." $ports) }}
{{- end }}
{{- if and $g.tls.certManager.enabled (not $g.tls.certManager.issuerRef.name) }}
{{- fail "gateway.tls.certManager.enabled is true but gateway.tls.certManager.issuerRef.name is empty: name the cert-manager Issuer or ClusterIssuer that signs the gateway's certificate." }}
{{- end }}
{{- end }}

{{/*
Object storage (values storage.*): the env, volume mounts and volumes that the operator and the
gateway pods share. Each renders nothing when storage.url is empty.
*/}}
{{- define "soulbox.storageEnabled" -}}
{{- if .Values.storage.url }}true{{ end }}
{{- end }}

{{- define "soulbox.storageFilePath" -}}
{{- trimPrefix "file://" (regexReplaceAll "\\?.*$" .Values.storage.url "") }}
{{- end }}

{{- define "soulbox.validateStorage" -}}
{{- $s := .Values.storage }}
{{- if and $s.url (hasPrefix "file://" $s.url) (not $s.pvc.claimName) }}
{{- fail (printf "storage.url is %s but storage.pvc.claimName is empty: a file:// store needs a PersistentVolumeClaim mounted at its path, or every replica would write to its own scratch disk." $s.url) }}
{{- end }}
{{- if and $s.pvc.claimName (not (hasPrefix "file://" $s.url)) }}
{{- fail "storage.pvc.claimName is set but storage.url is not a file:// URL: the claim is mounted only for a file:// store." }}
{{- end }}
{{- end }}

{{- /*
The store's URL. With .storageOwner (the node agent's), a file:// store gets ?owner=<uid>:<gid> of
the operator's pod: the agent writes as root and the operator, not root, must delete what it wrote
(deleting a file takes write permission on its directory).
*/ -}}
{{- define "soulbox.storageUrl" -}}
{{- $url := .Values.storage.url }}
{{- $psc := .Values.podSecurityContext | default dict }}
{{- if and .storageOwner (hasPrefix "file://" $url) (not (contains "owner=" $url)) $psc.runAsUser }}
{{- $url = printf "%s%sowner=%v:%v" $url (ternary "&" "?" (contains "?" $url)) (int $psc.runAsUser) (int ($psc.runAsGroup | default $psc.runAsUser)) }}
{{- end }}
{{- $url }}
{{- end }}

{{- define "soulbox.storageEnv" -}}
{{- if .Values.storage.url }}
- name: SOULBOX_STORAGE_URL
  value: {{ include "soulbox.storageUrl" . | quote }}
{{- if .Values.storage.credentialsSecret }}
- name: SOULBOX_STORAGE_CREDENTIALS_DIR
  value: /etc/soulbox/storage/credentials
{{- end }}
{{- if and .Values.storage.encryption.enabled .Values.storage.encryption.keySecret }}
- name: SOULBOX_STORAGE_KEYRING_DIR
  value: /etc/soulbox/storage/keyring
{{- end }}
{{- end }}
{{- end }}

{{- define "soulbox.storageVolumeMounts" -}}
{{- if .Values.storage.url }}
{{- if .Values.storage.credentialsSecret }}
- name: storage-credentials
  mountPath: /etc/soulbox/storage/credentials
  readOnly: true
{{- end }}
{{- if .Values.storage.encryption.keySecret }}
- name: storage-keyring
  mountPath: /etc/soulbox/storage/keyring
  readOnly: true
{{- end }}
{{- if .Values.storage.pvc.claimName }}
- name: storage-files
  mountPath: {{ include "soulbox.storageFilePath" . | quote }}
{{- end }}
{{- end }}
{{- end }}

{{- define "soulbox.storageVolumes" -}}
{{- if .Values.storage.url }}
{{- with .Values.storage.credentialsSecret }}
- name: storage-credentials
  secret:
    secretName: {{ . | quote }}
    defaultMode: 0400
{{- end }}
{{- with .Values.storage.encryption.keySecret }}
- name: storage-keyring
  secret:
    secretName: {{ . | quote }}
    defaultMode: 0400
{{- end }}
{{- with .Values.storage.pvc.claimName }}
- name: storage-files
  persistentVolumeClaim:
    claimName: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
How sandbox containers get the executor kit (envd.kitVolume): auto is an image volume where the
cluster has the ImageVolume feature on by default (1.35 and newer), else a copy per pod.
*/}}
{{- define "soulbox.kitVolume" -}}
{{- $v := .Values.envd.kitVolume | default "auto" }}
{{- if eq $v "auto" }}
{{- if semverCompare ">=1.35.0-0" .Capabilities.KubeVersion.Version }}image{{ else }}copy{{ end }}
{{- else }}{{ $v }}{{ end }}
{{- end }}

{{/*
The node agent's name (its DaemonSet and its token Secret), and whether it runs.
*/}}
{{- define "soulbox.nodeAgentName" -}}
{{- printf "%s-node-agent" (include "soulbox.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "soulbox.nodeAgentEnabled" -}}
{{- if and .Values.nodeAgent.enabled .Values.storage.url }}true{{ end }}
{{- end }}
