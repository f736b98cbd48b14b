// What the broker needs from its certificates, whichever source provides them (files or a
// Secret). Its own module so the sources and the factory that picks one do not import
// each other.
import type { TlsMaterial } from '../../shared/shard-protocol.js';

/** Certificates for the tunnels, reloaded without dropping established tunnels. */
export interface TlsSource {
  /** Loads the material (fails if it is missing or invalid), then watches for changes. */
  start(onChange: (material: TlsMaterial) => void): Promise<TlsMaterial>;
  /** The material in force. */
  current(): TlsMaterial;
  stop(): Promise<void>;
}
