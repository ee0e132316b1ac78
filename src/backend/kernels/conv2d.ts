/** Kernel contract of the conv2d family (placeholder: filled in with the family). */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface Conv2dKernels {}
