/** Sounds for the microphone tests, as ffmpeg lavfi sources. */

/** Pink noise at `dbfs` RMS: anoisesrc's pink at amplitude 0.00512 measures -60.0 dBFS RMS (astats, 60 s). A quiet
 * interview room between questions sits around -60 dBFS. */
export function pink(dbfs: number, sampleRate = 48000): string {
  return `anoisesrc=color=pink:amplitude=${(0.00512 * 10 ** ((dbfs + 60) / 20)).toFixed(6)}:sample_rate=${sampleRate}:seed=7`;
}
