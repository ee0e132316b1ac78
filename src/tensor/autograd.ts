/**
 * Reverse-mode autodiff with a define-by-run graph: every op that sees an input requiring
 * gradients records a GradNode on its output; `backward()` walks the nodes in reverse
 * topological order, calls each node's gradient function, and accumulates leaf gradients.
 */
import type { Tensor } from './tensor.js';
import type { Device, DeviceBuffer } from '../backend/device.js';
import { fmtShape, ShapeError } from './errors.js';
import { numel } from './shape.js';

/**
 * Wraps a buffer as a tensor: Tensor.backward passes `new Tensor`, so this module needs no
 * value import of the Tensor class (tensor.ts imports this one; no import cycle).
 */
export type MakeTensor = (storage: DeviceBuffer, shape: readonly number[], device: Device) => Tensor;

/** What an op leaves on its output so gradients can flow back to its inputs. */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Given dL/d(out), returns dL/d(input) for each input (null where no gradient flows). */
  readonly backward: (gradOut: Tensor) => readonly (Tensor | null)[];
}

let gradEnabled = true;

/** Whether ops currently record gradient nodes. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Runs `fn` without recording any graph (sampling, evaluation, optimizer updates).
 * @example const x0 = noGrad(() => model.forward(x, t));
 */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Runs `fn` with graph recording on, also inside a noGrad scope (torch.enable_grad): e.g. the
 * classifier's input gradient that classifier guidance takes in the middle of sampling.
 * @example const g = enableGrad(() => { const x = xt.requireGrad(); f(x).backward(); return x.grad; });
 */
export function enableGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Records `out = op(inputs)` on the tape if any input requires gradients; returns `out`.
 * Every op calls this once, right after its forward kernel, with its gradient function.
 */
export function recordOp(
  op: string,
  out: Tensor,
  inputs: readonly Tensor[],
  backward: (gradOut: Tensor) => readonly (Tensor | null)[],
): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward };
  }
  return out;
}

/** Tensors reachable from `root` through grad nodes, inputs before the outputs that use them. */
function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: deep U-Nets would overflow a recursive one.
  const stack: { t: Tensor; next: number }[] = [{ t: root, next: 0 }];
  seen.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const inputs = top.t.node?.inputs ?? [];
    if (top.next < inputs.length) {
      const child = inputs[top.next++]!;
      if (child.requiresGrad && !seen.has(child)) {
        seen.add(child);
        stack.push({ t: child, next: 0 });
      }
    } else {
      order.push(top.t);
      stack.pop();
    }
  }
  return order;
}

function addInto(dst: Tensor, src: Tensor): void {
  dst.device.kernels.axpy(dst.storage, src.storage, 1);
}

/** a + b into a new buffer: one pass instead of a copy and an add. */
function sumOf(make: MakeTensor, a: Tensor, b: Tensor): Tensor {
  const out = make(a.device.allocUninit(a.dtype, a.size), a.shape, a.device);
  a.device.kernels.binary('add', a.storage, a.shape, b.storage, a.shape, out.storage, a.shape);
  return out;
}

/** A copy of `g` with `shape` (a leaf's first gradient, which later ones accumulate into). */
function copyOf(make: MakeTensor, g: Tensor, shape: readonly number[]): Tensor {
  const out = make(g.device.allocUninit(g.dtype, numel(shape)), shape, g.device);
  g.device.kernels.copy(out.storage, g.storage);
  return out;
}

/** See Tensor.backward. */
export function backward(root: Tensor, grad: Tensor | undefined, retainGraph: boolean, make: MakeTensor): void {
  if (!root.requiresGrad) {
    throw new ShapeError(`backward(): the tensor of shape ${fmtShape(root.shape)} does not require gradients (no input of its graph has requiresGrad)`);
  }
  let seed: Tensor;
  if (grad === undefined) {
    if (root.size !== 1) {
      throw new ShapeError(`backward(): the tensor has shape ${fmtShape(root.shape)}; a non-scalar needs an explicit gradient argument of the same shape`);
    }
    const ones = root.device.alloc(root.dtype, root.size);
    root.device.kernels.fill(ones, 1);
    seed = make(ones, root.shape, root.device);
  } else {
    if (grad.size !== root.size || grad.dtype !== root.dtype || grad.device !== root.device) {
      throw new ShapeError(
        `backward(): gradient has shape ${fmtShape(grad.shape)} (${grad.dtype} on ${grad.device.name}), expected ${fmtShape(root.shape)} (${root.dtype} on ${root.device.name})`,
      );
    }
    seed = grad;
  }

  const order = topoOrder(root);
  // Gradients of non-leaf tensors, owned (safe to add into) or borrowed from a gradient function.
  const grads = new Map<Tensor, { g: Tensor; owned: boolean }>();
  grads.set(root, { g: seed, owned: false });

  const accumulate = (t: Tensor, g: Tensor, op: string): void => {
    if (g.size !== t.size) {
      throw new ShapeError(`backward of ${op}: gradient has shape ${fmtShape(g.shape)}, expected the input's ${fmtShape(t.shape)}`);
    }
    if (t.node === null) {
      // A leaf: accumulate into .grad (across backward calls too, as in PyTorch).
      if (t.grad === null) t.grad = copyOf(make, g, t.shape);
      else addInto(t.grad, g);
      return;
    }
    const prev = grads.get(t);
    if (prev === undefined) grads.set(t, { g, owned: false });
    else if (prev.owned) addInto(prev.g, g);
    else {
      grads.set(t, { g: sumOf(make, prev.g, g), owned: true });
    }
  };

  noGrad(() => {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!;
      const node = t.node;
      if (node === null) {
        if (t === root) accumulate(t, seed, 'backward');
        continue;
      }
      const entry = grads.get(t);
      grads.delete(t);
      if (!retainGraph) t.node = null;
      if (entry === undefined) continue;
      const inGrads = node.backward(entry.g);
      node.inputs.forEach((input, k) => {
        const g = inGrads[k];
        if (g && input.requiresGrad) accumulate(input, g, node.op);
      });
    }
  });
}
