/** The part of sm-crypto 0.3 (no types of its own) that test/unit/gm-sm-crypto.test.ts uses. Hex strings throughout. */
declare module 'sm-crypto' {
  type Bytes = number[] | string;
  export const sm2: {
    doSignature(msg: Bytes, privateKey: string, opts?: { der?: boolean; hash?: boolean; publicKey?: string; userId?: string }): string;
    doVerifySignature(msg: Bytes, sig: string, publicKey: string, opts?: { der?: boolean; hash?: boolean; userId?: string }): boolean;
    /** cipherMode 1 = C1C3C2; C1 without its leading 04. */
    doEncrypt(msg: Bytes, publicKey: string, cipherMode?: 0 | 1): string;
    doDecrypt(encrypted: string, privateKey: string, cipherMode: 0 | 1, opts: { output: 'array' }): number[];
  };
  export function sm3(input: Bytes, opts?: { key: Bytes; mode?: 'hmac' }): string;
  export const sm4: {
    encrypt(input: Bytes, key: Bytes, opts: { padding: 'none'; output: 'array'; mode?: 'cbc' | 'ecb' }): number[];
  };
}
