/**
 * The sampling part of every request the web page sends (generate, inpaint, img2img), as a pure
 * function of the page's controls so it can be tested without a browser: a control the user has
 * not moved since the model was chosen sends the model's own default (its sampling_config.json, as
 * /api/models reports it) exactly, never the value a slider snapped it to; a control the user moved
 * sends its value.
 */

/** What /api/models reports of a model's sampling defaults. */
export interface SamplingDefaults {
  guidance: number;
  sampler: string | null;
  steps: number | null;
}

/** The model as the page knows it. */
export interface RequestModel {
  name: string;
  /** Whether classifier-free guidance is possible (a null class exists). */
  guidance: boolean;
  defaults: SamplingDefaults;
}

/** The controls' current values. */
export interface SamplingControls {
  sampler: string;
  steps: number;
  guidance: number;
  classLabel: number | null;
  seed: number;
}

/** The sampling controls the user has moved since the model was chosen. */
export interface Touched {
  sampler: boolean;
  steps: boolean;
  guidance: boolean;
}

/** The request's sampling fields. */
export interface SamplingRequest {
  model: string;
  sampler: string;
  steps: number;
  guidance: number;
  classLabel: number | null;
  seed: number;
}

/** No control moved: what a freshly chosen model starts with. */
export const UNTOUCHED: Readonly<Touched> = Object.freeze({ sampler: false, steps: false, guidance: false });

/**
 * The sampling fields of a request: the model's defaults for every control left alone, the
 * controls' values for the ones moved (or where the model has no default).
 * @example samplingRequest({ name: 'm', guidance: true, defaults: { guidance: 1.3, sampler: 'ddim', steps: 20 } },
 *   { sampler: 'ddim', steps: 20, guidance: 1.5, classLabel: 0, seed: 1 }, UNTOUCHED).guidance // 1.3
 */
export function samplingRequest(model: RequestModel, controls: SamplingControls, touched: Touched): SamplingRequest {
  const d = model.defaults;
  return {
    model: model.name,
    sampler: touched.sampler || d.sampler === null ? controls.sampler : d.sampler,
    steps: touched.steps || d.steps === null ? controls.steps : d.steps,
    // An unconditional model has no guidance to default: the control's (disabled) value, 1.
    guidance: touched.guidance || !model.guidance ? controls.guidance : d.guidance,
    classLabel: controls.classLabel,
    seed: controls.seed,
  };
}

/**
 * How a slider shows a value: as many decimals as it needs, up to `digits` (1.3, 1.25, 2).
 * @example formatSlider(1.25) // '1.25'
 */
export function formatSlider(v: number, digits = 2): string {
  return String(Number(v.toFixed(digits)));
}
