{{/*
Names, labels, the rendered configuration, the checks that refuse a values
file the rotator could not run with, and the pod both shapes share.
*/}}

{{- define "pat-rotator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "pat-rotator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pat-rotator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pat-rotator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pat-rotator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "pat-rotator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "pat-rotator.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Where the image keeps its state (Dockerfile: /var/lib/pat-rotator, TMPDIR). */}}
{{- define "pat-rotator.stateDir" -}}/var/lib/pat-rotator{{- end -}}
{{- define "pat-rotator.configDir" -}}/etc/pat-rotator{{- end -}}

{{/*
The configuration as the rotator reads it: .Values.config, and in the
cronjob shape the SQLite store on the volume and the CronJob's schedule
where the values leave them out.
*/}}
{{- define "pat-rotator.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- if eq .Values.shape "cronjob" -}}
{{- if not (hasKey $cfg "store") -}}
{{- $_ := set $cfg "store" (printf "sqlite://%s/state.db" (include "pat-rotator.stateDir" .)) -}}
{{- end -}}
{{- $defaults := default dict (get $cfg "defaults") -}}
{{- if not (hasKey $defaults "schedule") -}}
{{- $_ := set $defaults "schedule" .Values.cronjob.schedule -}}
{{- end -}}
{{- $_ := set $cfg "defaults" $defaults -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* Every string value of a key ending in SUFFIX (in .suffix), at any depth of .v, one a line. */}}
{{- define "pat-rotator.refs" -}}
{{- $suffix := .suffix -}}
{{- if kindIs "map" .v -}}
{{- range $k, $x := .v -}}
{{- if and (hasSuffix $suffix $k) (kindIs "string" $x) }}{{ $x }}{{ "\n" }}{{ end -}}
{{- include "pat-rotator.refs" (dict "v" $x "suffix" $suffix) -}}
{{- end -}}
{{- else if kindIs "slice" .v -}}
{{- range .v -}}
{{- include "pat-rotator.refs" (dict "v" . "suffix" $suffix) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Refuses, with the fix, what the rotator could not run with: a store that
would not survive or be shared, a `*-env` key with no variable from a
Secret, a `*-file` path outside the mounted Secrets, monitoring without a
listener. (values.schema.json refuses unknown keys, an unknown shape and
incomplete credentials.)
*/}}
{{- define "pat-rotator.check" -}}
{{- $shape := .Values.shape -}}
{{- $cfg := include "pat-rotator.config" . | fromYaml -}}
{{- $store := toString (default "" (get $cfg "store")) -}}
{{- if and (eq $shape "daemon") (or (eq $store "") (hasPrefix "sqlite:" $store)) -}}
{{- fail "the daemon shape runs its replicas on one shared store: set config.store to a PostgreSQL DSN (postgres://USER@HOST:5432/DB?sslmode=verify-full, its password in store-password-file), or use shape: cronjob for SQLite" -}}
{{- end -}}
{{- $stateDir := include "pat-rotator.stateDir" . -}}
{{- if and (hasPrefix "sqlite:" $store) (not (hasPrefix (printf "sqlite://%s/" $stateDir) $store)) -}}
{{- fail (printf "config.store %q is not on the state volume: write sqlite://%s/state.db (or leave store out)" $store $stateDir) -}}
{{- end -}}
{{- $envs := list -}}
{{- range .Values.credentials.env -}}
{{- $envs = append $envs .name -}}
{{- end -}}
{{- range splitList "\n" (include "pat-rotator.refs" (dict "v" $cfg "suffix" "-env")) -}}
{{- if and . (not (has . $envs)) -}}
{{- fail (printf "the configuration names the environment variable %s, but credentials.env does not set it: add {name: %s, secretName: SECRET, key: KEY}" . .) -}}
{{- end -}}
{{- end -}}
{{- $mounts := list -}}
{{- range .Values.credentials.files -}}
{{- $mounts = append $mounts (trimSuffix "/" .mountPath) -}}
{{- end -}}
{{- range splitList "\n" (include "pat-rotator.refs" (dict "v" $cfg "suffix" "-file")) -}}
{{- $path := . -}}
{{- if $path -}}
{{- $under := false -}}
{{- range $mounts -}}
{{- if hasPrefix (printf "%s/" .) $path -}}{{- $under = true -}}{{- end -}}
{{- end -}}
{{- if not $under -}}
{{- fail (printf "the configuration reads the file %s, which no credentials.files Secret provides: mount the Secret with {secretName: SECRET, mountPath: DIR} and name the file DIR/KEY" $path) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and (eq $shape "cronjob") (or .Values.monitoring.serviceMonitor.enabled .Values.monitoring.prometheusRule.enabled) -}}
{{- fail "monitoring needs the daemon shape: a CronJob of `pat-rotator rotate` serves no /metrics (turn monitoring.serviceMonitor and monitoring.prometheusRule off, or use shape: daemon)" -}}
{{- end -}}
{{- end -}}

{{/* The pod of either shape; .args are pat-rotator's arguments. */}}
{{- define "pat-rotator.pod" -}}
{{- $root := .root -}}
{{- with $root -}}
metadata:
  labels:
    {{- include "pat-rotator.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # A changed configuration rolls the pods (pat-rotator reads it at start).
    checksum/config: {{ include "pat-rotator.config" . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- if eq .Values.shape "cronjob" }}
  restartPolicy: Never
  {{- end }}
  # pat-rotator talks to Groo and GitHub only, never to the Kubernetes API.
  automountServiceAccountToken: false
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  # The image's user (distroless nonroot); fsGroup lets it write the volume.
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    fsGroup: 65532
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: pat-rotator
      image: {{ include "pat-rotator.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        {{- toYaml $.args | nindent 8 }}
      {{- with .Values.credentials.env }}
      env:
        {{- range . }}
        - name: {{ .name }}
          valueFrom:
            secretKeyRef:
              name: {{ .secretName }}
              key: {{ .key }}
        {{- end }}
      {{- end }}
      {{- if eq .Values.shape "daemon" }}
      ports:
        - name: http
          containerPort: {{ .Values.daemon.port }}
          protocol: TCP
      # The listener starts once the store is open (and, on PostgreSQL,
      # migrated): the startup probe gives that 5 minutes.
      startupProbe:
        httpGet: {path: /healthz, port: http}
        periodSeconds: 5
        failureThreshold: 60
      livenessProbe:
        httpGet: {path: /healthz, port: http}
        periodSeconds: 20
        timeoutSeconds: 5
        failureThreshold: 3
      # 503 until the schedule is loaded, and again while stopping.
      readinessProbe:
        httpGet: {path: /readyz, port: http}
        periodSeconds: 10
        timeoutSeconds: 5
      {{- end }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        readOnlyRootFilesystem: true
        allowPrivilegeEscalation: false
        privileged: false
        capabilities:
          drop: [ALL]
        seccompProfile:
          type: RuntimeDefault
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: config
          mountPath: {{ include "pat-rotator.configDir" . }}
          readOnly: true
        # The store (SQLite) and TMPDIR: the root file system is read-only.
        - name: state
          mountPath: {{ include "pat-rotator.stateDir" . }}
        {{- range $i, $f := .Values.credentials.files }}
        - name: credentials-{{ $i }}
          mountPath: {{ $f.mountPath }}
          readOnly: true
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "pat-rotator.fullname" . }}
    - name: state
      {{- if eq .Values.shape "cronjob" }}
      persistentVolumeClaim:
        claimName: {{ default (printf "%s-state" (include "pat-rotator.fullname" .)) .Values.cronjob.persistence.existingClaim }}
      {{- else }}
      emptyDir:
        sizeLimit: {{ .Values.daemon.stateSizeLimit }}
      {{- end }}
    {{- range $i, $f := .Values.credentials.files }}
    - name: credentials-{{ $i }}
      secret:
        secretName: {{ $f.secretName }}
        defaultMode: 0440   # the owner and fsGroup (the image's user) read it
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end -}}
