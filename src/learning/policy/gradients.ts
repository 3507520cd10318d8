/**
 * tfjs-core's Node bundle registers no gradient functions; tfjs-layers' bundle registers all of
 * core's (into the shared global registry). Import this module for that side effect wherever
 * tf.grads is used.
 */
import '@tensorflow/tfjs-layers';
