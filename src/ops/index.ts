/** Every op, one family per file. */
export * from './unary.js';
export * from './binary.js';
export * from './scalar.js';
export * from './reduce.js';
export * from './where.js';
export * from './loss.js';
export * from './conv2d.js';
export * from './matmul.js';
export * from './group_norm.js';
export * from './layer_norm.js';
export * from './softmax.js';
export * from './attention.js';
export * from './shape.js';
export * from './concat.js';
export * from './upsample.js';
export * from './embedding.js';
export * from './slice.js';
