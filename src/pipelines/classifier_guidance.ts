/**
 * Classifier guidance moved to the engine's model side (sampling/classifier_guidance.ts, composed
 * by sampling/conditioned_model.ts); this path keeps its imports working.
 */
export { classifierGuide, classifierLogProbGrad, type ClassifierGuide, type GuidingClassifier } from '../sampling/classifier_guidance.js';
