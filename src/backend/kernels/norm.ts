/** Kernel contract of the norm family (placeholder: filled in with the family). */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface NormKernels {}
