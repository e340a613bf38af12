/**
 * The sandbox pod contract (see the design: one pod per sandbox, envd as a native sidecar, the
 * executor injected as the template container's PID 1), written out by hand.
 */
import type * as k8s from "@kubernetes/client-node";

/** The envd sidecar image (built and imported by `cluster up --with-node`). */
export const ENVD_IMAGE = "localhost/soulbox/envd:latest";
/** envd's port in the pod. */
export const ENVD_PORT = 49983;

/**
 * The sandbox pod exactly as the pod contract writes it (the operator's job, done by hand for
 * the node tests and the node benchmark): envd sidecar with the token from Secret
 * `<name>-envd`, the template `image` running the injected executor, then `command` after `--`.
 */
export function contractPod(name: string, image: string, command: string[] = []): k8s.V1Pod {
  const kit = "/soulbox/kit";
  return {
    metadata: { name, labels: { "soulbox.dev/sandbox": name } },
    spec: {
      runtimeClassName: "kata",
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      hostNetwork: false,
      hostPID: false,
      hostIPC: false,
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 5,
      volumes: [{ name: "soulbox", emptyDir: {} }],
      initContainers: [
        {
          name: "envd",
          image: ENVD_IMAGE,
          imagePullPolicy: "IfNotPresent",
          restartPolicy: "Always",
          args: ["--port", String(ENVD_PORT), "--executor-socket", "/soulbox/run/executor.sock"],
          env: [
            {
              name: "ENVD_ACCESS_TOKEN",
              valueFrom: { secretKeyRef: { name: `${name}-envd`, key: "token" } },
            },
          ],
          ports: [{ name: "envd", containerPort: ENVD_PORT }],
          startupProbe: {
            httpGet: { path: "/health", port: ENVD_PORT },
            periodSeconds: 1,
            failureThreshold: 60,
          },
          readinessProbe: { httpGet: { path: "/ready", port: ENVD_PORT }, periodSeconds: 2 },
          volumeMounts: [{ name: "soulbox", mountPath: "/soulbox" }],
          securityContext: {
            runAsUser: 0,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ["ALL"] },
            seccompProfile: { type: "RuntimeDefault" },
          },
        },
      ],
      containers: [
        {
          name: "sandbox",
          image,
          imagePullPolicy: "IfNotPresent",
          command: [
            `${kit}/ld.so`,
            "--library-path",
            `${kit}/lib`,
            `${kit}/node`,
            `${kit}/executor.mjs`,
            "--socket",
            "/soulbox/run/executor.sock",
            "--inherit-env",
            "--",
            ...command,
          ],
          volumeMounts: [{ name: "soulbox", mountPath: "/soulbox" }],
          securityContext: {
            runAsUser: 0,
            privileged: false,
            allowPrivilegeEscalation: true,
            capabilities: {
              drop: ["ALL"],
              add: [
                "CHOWN",
                "DAC_OVERRIDE",
                "FOWNER",
                "FSETID",
                "KILL",
                "SETGID",
                "SETUID",
                "NET_BIND_SERVICE",
                "AUDIT_WRITE",
                "SYS_CHROOT",
              ],
            },
            seccompProfile: { type: "RuntimeDefault" },
          },
        },
      ],
    },
  };
}
