{{/* The release's base name, at most 63 characters. */}}
{{- define "fedcrypt.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels that select this release's pods. */}}
{{- define "fedcrypt.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: {{ .Values.role }}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "fedcrypt.labels" -}}
{{ include "fedcrypt.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- if eq .Values.role "member" }}
fedcrypt.org/member: {{ .Values.member.id | quote }}
{{- end }}
{{- end -}}

{{/* The image reference: by digest when one is given. */}}
{{- define "fedcrypt.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The ConfigMap holding federation.json and ca.crt. */}}
{{- define "fedcrypt.configMapName" -}}
{{- .Values.federation.existingConfigMap | default (printf "%s-federation" (include "fedcrypt.fullname" .)) -}}
{{- end -}}

{{/* The identity file's name in the identity Secret. */}}
{{- define "fedcrypt.identityFile" -}}
{{- if .Values.identity.protected }}identity.age{{ else }}identity.key{{ end -}}
{{- end -}}

{{/*
Checks the values and fails with one line naming what is wrong; renders
nothing.
*/}}
{{- define "fedcrypt.validate" -}}
{{- if not (has .Values.role (list "aggregator" "member")) -}}
{{- fail (printf "role %q: want aggregator or member" .Values.role) -}}
{{- end -}}
{{- if not (has (int .Values.replicas) (list 0 1)) -}}
{{- fail (printf "replicas %v: want 1 (running) or 0 (stopped); a party never runs twice" .Values.replicas) -}}
{{- end -}}
{{- if not .Values.identity.existingSecret -}}
{{- fail "identity.existingSecret is required: the Secret with this party's identity, tls.crt and tls.key.age" -}}
{{- end -}}
{{- if and (not .Values.federation.existingConfigMap) (or (not .Values.federation.config) (not .Values.federation.caCert)) -}}
{{- fail "federation: give existingConfigMap, or both config and caCert (--set-file)" -}}
{{- end -}}
{{- if and .Values.identity.protected (not .Values.identity.passphrase.volume) (not .Values.identity.passphrase.existingSecret) -}}
{{- fail "identity.protected: give identity.passphrase.volume or identity.passphrase.existingSecret" -}}
{{- end -}}
{{- if and .Values.identity.passphrase.volume .Values.identity.passphrase.existingSecret -}}
{{- fail "identity.passphrase: give volume or existingSecret, not both" -}}
{{- end -}}
{{- if not (regexMatch "^[A-Za-z0-9_][A-Za-z0-9._-]*$" (toString .Values.aggregator.runDir)) -}}
{{- fail (printf "aggregator.runDir %q: want one directory name" .Values.aggregator.runDir) -}}
{{- end -}}
{{- if eq .Values.role "member" -}}
{{- if not .Values.member.id -}}
{{- fail "member.id is required: this hospital's member id in federation.json" -}}
{{- end -}}
{{- if not (regexMatch "^.+:[0-9]+$" .Values.member.aggregatorAddress) -}}
{{- fail (printf "member.aggregatorAddress %q: want host:port" .Values.member.aggregatorAddress) -}}
{{- end -}}
{{- if not .Values.member.data.existingClaim -}}
{{- fail "member.data.existingClaim is required: the claim holding the age-encrypted training data" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The pod's security context: a fixed non-root user, RuntimeDefault seccomp. */}}
{{- define "fedcrypt.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The container's security context. */}}
{{- define "fedcrypt.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Flags naming the federation's files and this party's keys. */}}
{{- define "fedcrypt.keyArgs" -}}
- --config=/etc/fedcrypt/federation/federation.json
- --identity=/etc/fedcrypt/identity/{{ include "fedcrypt.identityFile" . }}
{{- if .Values.identity.protected }}
- --passphrase-file=/etc/fedcrypt/passphrase/{{ .Values.identity.passphrase.key }}
{{- end }}
{{- end -}}

{{/* Mounts shared by both roles; every one but /tmp is read-only. */}}
{{- define "fedcrypt.volumeMounts" -}}
- name: federation
  mountPath: /etc/fedcrypt/federation
  readOnly: true
- name: identity
  mountPath: /etc/fedcrypt/identity
  readOnly: true
{{- if .Values.identity.protected }}
- name: passphrase
  mountPath: /etc/fedcrypt/passphrase
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Volumes shared by both roles. */}}
{{- define "fedcrypt.volumes" -}}
- name: federation
  configMap:
    name: {{ include "fedcrypt.configMapName" . }}
    items:
      - {key: federation.json, path: federation.json}
      - {key: ca.crt, path: ca.crt}
- name: identity
  secret:
    secretName: {{ .Values.identity.existingSecret }}
    defaultMode: 0440
    items:
      - {key: {{ include "fedcrypt.identityFile" . }}, path: {{ include "fedcrypt.identityFile" . }}}
      - {key: tls.crt, path: tls.crt}
      - {key: tls.key.age, path: tls.key.age}
{{- if .Values.identity.protected }}
- name: passphrase
{{- if .Values.identity.passphrase.volume }}
{{- toYaml .Values.identity.passphrase.volume | nindent 2 }}
{{- else }}
  secret:
    secretName: {{ .Values.identity.passphrase.existingSecret }}
    defaultMode: 0440
    items:
      - {key: {{ .Values.identity.passphrase.key }}, path: {{ .Values.identity.passphrase.key }}}
{{- end }}
{{- end }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}
