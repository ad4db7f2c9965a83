// The part of an OCI image config that shapes a container (the `config` object), shared
// by the image store (which keeps it) and the OCI spec generator (which reads it).
export interface ImageConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Volumes?: Record<string, unknown>;
}
