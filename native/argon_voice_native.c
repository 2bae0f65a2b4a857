/*
 * argon_voice_native: the optional N-API addon of argon-voice.
 *
 * Two small pieces that no Node Opus binding offers:
 *
 *   1. A libopus decoder that writes into caller-owned Int16Arrays, conceals an exact duration
 *      (opus_decode(NULL, 0, pcm, frame_size, 0) with frame_size taken from the output length) and
 *      decodes in-band FEC (decode_fec = 1). @discordjs/opus always passes frame_size = 120 ms and
 *      decode_fec = 0, so its PLC has the wrong length and FEC data is thrown away.
 *   2. An absolute-deadline clock for the publish pacer's worker thread: CLOCK_MONOTONIC,
 *      clock_nanosleep(TIMER_ABSTIME) and SCHED_FIFO on the calling thread. Sleeping to an absolute
 *      deadline does not accumulate the wake-up error of relative sleeps, and SCHED_FIFO keeps a busy
 *      main thread or a noisy neighbour from delaying the wake-up.
 *
 * The module is context-aware (NAPI_MODULE_INIT): every Node environment (main thread, each worker
 * thread) runs the init below and gets its own class and functions, and no static holds a JS value
 * or a napi_env. That is what makes it loadable from worker_threads.
 *
 * Hot paths allocate nothing: the decoder writes into the caller's buffer and returns a small integer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <node_api.h>
#include <opus.h>

/* Bumped whenever the JS-visible API changes, so the loader can reject a stale build/ directory. */
#define ARGON_VOICE_NATIVE_ABI 1

/* 120 ms at 48 kHz: the longest packet RFC 6716 allows, so an out buffer this long decodes anything. */
#define MAX_FRAME_SAMPLES_48K 5760

typedef struct {
  OpusDecoder *dec; /* NULL once closed */
  int sample_rate;
  int channels;
} decoder_wrap;

/* ---- error helpers ---------------------------------------------------------------------------- */

/* Stable `code` strings for libopus errors; the TS wrapper maps them to InvalidInputError. */
static const char *opus_code_name(int err) {
  switch (err) {
    case OPUS_BAD_ARG: return "OPUS_BAD_ARG";
    case OPUS_BUFFER_TOO_SMALL: return "OPUS_BUFFER_TOO_SMALL";
    case OPUS_INTERNAL_ERROR: return "OPUS_INTERNAL_ERROR";
    case OPUS_INVALID_PACKET: return "OPUS_INVALID_PACKET";
    case OPUS_UNIMPLEMENTED: return "OPUS_UNIMPLEMENTED";
    case OPUS_INVALID_STATE: return "OPUS_INVALID_STATE";
    case OPUS_ALLOC_FAIL: return "OPUS_ALLOC_FAIL";
    default: return "OPUS_ERROR";
  }
}

static void throw_opus(napi_env env, const char *what, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, opus_strerror(err));
  napi_throw_error(env, opus_code_name(err), msg);
}

/* Evaluates an N-API call; on failure throws (unless an exception is already pending) and returns NULL. */
#define NAPI_CALL(env, call)                                                        \
  do {                                                                              \
    napi_status status_ = (call);                                                   \
    if (status_ != napi_ok) {                                                       \
      bool pending_ = false;                                                        \
      napi_is_exception_pending((env), &pending_);                                  \
      if (!pending_) {                                                              \
        const napi_extended_error_info *info_ = NULL;                               \
        napi_get_last_error_info((env), &info_);                                    \
        napi_throw_error((env), "ARGON_NATIVE_NAPI",                                \
                         info_ && info_->error_message ? info_->error_message       \
                                                       : "N-API call failed");      \
      }                                                                             \
      return NULL;                                                                  \
    }                                                                               \
  } while (0)

static napi_value make_int(napi_env env, int32_t v) {
  napi_value out;
  if (napi_create_int32(env, v, &out) != napi_ok) return NULL;
  return out;
}

static napi_value make_undefined(napi_env env) {
  napi_value out;
  napi_get_undefined(env, &out);
  return out;
}

/* Reads a typed array argument of the expected type; NULL data for a zero-length view is fine. */
static int get_typed(napi_env env, napi_value v, napi_typedarray_type want, const char *what,
                     void **data, size_t *length) {
  bool is_ta = false;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a %s", what, want == napi_int16_array ? "Int16Array" : "Uint8Array");
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return 0;
  }
  if (napi_get_typedarray_info(env, v, &type, length, data, NULL, NULL) != napi_ok) return 0;
  /* A Buffer is a Uint8Array; Uint8ClampedArray has the same layout, so accept it for packets too. */
  if (type != want && !(want == napi_uint8_array && type == napi_uint8_clamped_array)) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a %s", what, want == napi_int16_array ? "Int16Array" : "Uint8Array");
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return 0;
  }
  return 1;
}

/* ---- Decoder ---------------------------------------------------------------------------------- */

static void decoder_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  decoder_wrap *w = (decoder_wrap *)data;
  if (w->dec) opus_decoder_destroy(w->dec);
  free(w);
}

static decoder_wrap *unwrap_open(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *ptr = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &ptr) != napi_ok || ptr == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_THIS", "not a Decoder");
    return NULL;
  }
  decoder_wrap *w = (decoder_wrap *)ptr;
  if (w->dec == NULL) {
    napi_throw_error(env, "ARGON_NATIVE_CLOSED", "the decoder is closed");
    return NULL;
  }
  return w;
}

/* new Decoder(sampleRate = 48000, channels = 1) */
static napi_value decoder_new(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self, target;
  NAPI_CALL(env, napi_get_new_target(env, info, &target));
  if (target == NULL) {
    napi_throw_type_error(env, "ERR_CONSTRUCT_CALL_REQUIRED", "Decoder must be called with new");
    return NULL;
  }
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  int32_t rate = 48000, channels = 1;
  napi_valuetype t;
  if (argc > 0 && napi_typeof(env, argv[0], &t) == napi_ok && t != napi_undefined) {
    NAPI_CALL(env, napi_get_value_int32(env, argv[0], &rate));
  }
  if (argc > 1 && napi_typeof(env, argv[1], &t) == napi_ok && t != napi_undefined) {
    NAPI_CALL(env, napi_get_value_int32(env, argv[1], &channels));
  }
  if (channels != 1 && channels != 2) {
    napi_throw_range_error(env, "OPUS_BAD_ARG", "channels must be 1 or 2");
    return NULL;
  }
  int err = OPUS_OK;
  OpusDecoder *dec = opus_decoder_create(rate, channels, &err);
  if (err != OPUS_OK || dec == NULL) {
    throw_opus(env, "opus_decoder_create", err == OPUS_OK ? OPUS_ALLOC_FAIL : err);
    return NULL;
  }
  decoder_wrap *w = (decoder_wrap *)calloc(1, sizeof *w);
  if (w == NULL) {
    opus_decoder_destroy(dec);
    throw_opus(env, "opus_decoder_create", OPUS_ALLOC_FAIL);
    return NULL;
  }
  w->dec = dec;
  w->sample_rate = rate;
  w->channels = channels;
  if (napi_wrap(env, self, w, decoder_finalize, NULL, NULL) != napi_ok) {
    decoder_finalize(env, w, NULL);
    napi_throw_error(env, "ARGON_NATIVE_NAPI", "napi_wrap failed");
    return NULL;
  }
  return self;
}

/* Output length in samples per channel, checked to be whole and non-empty. */
static int frame_size_of(napi_env env, decoder_wrap *w, size_t out_len, int *frame_size) {
  if (out_len == 0 || out_len % (size_t)w->channels != 0) {
    napi_throw_range_error(env, "OPUS_BAD_ARG", "out length must be a non-zero multiple of the channel count");
    return 0;
  }
  size_t fs = out_len / (size_t)w->channels;
  if (fs > (size_t)INT32_MAX) {
    napi_throw_range_error(env, "OPUS_BAD_ARG", "out is too long");
    return 0;
  }
  *frame_size = (int)fs;
  return 1;
}

/* decodeInto(packet: Uint8Array, out: Int16Array, fec: boolean): number */
static napi_value decoder_decode_into(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  decoder_wrap *w = unwrap_open(env, info, &argc, argv);
  if (w == NULL) return NULL;
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "decodeInto(packet, out, fec) needs packet and out");
    return NULL;
  }
  void *pkt = NULL, *out = NULL;
  size_t pkt_len = 0, out_len = 0;
  if (!get_typed(env, argv[0], napi_uint8_array, "packet", &pkt, &pkt_len)) return NULL;
  if (!get_typed(env, argv[1], napi_int16_array, "out", &out, &out_len)) return NULL;
  bool fec = false;
  if (argc > 2) {
    napi_valuetype t;
    NAPI_CALL(env, napi_typeof(env, argv[2], &t));
    if (t == napi_boolean) NAPI_CALL(env, napi_get_value_bool(env, argv[2], &fec));
  }
  /* libopus reads len == 0 (or data == NULL) as "packet lost"; that is concealInto's job, and
   * silently concealing here would hide a caller's bug. */
  if (pkt_len == 0 || pkt == NULL) {
    throw_opus(env, "decodeInto", OPUS_INVALID_PACKET);
    return NULL;
  }
  if (pkt_len > (size_t)INT32_MAX) {
    throw_opus(env, "decodeInto", OPUS_INVALID_PACKET);
    return NULL;
  }
  int frame_size;
  if (!frame_size_of(env, w, out_len, &frame_size)) return NULL;
  int n = opus_decode(w->dec, (const unsigned char *)pkt, (opus_int32)pkt_len, (opus_int16 *)out, frame_size,
                      fec ? 1 : 0);
  if (n < 0) {
    throw_opus(env, fec ? "opus_decode (fec)" : "opus_decode", n);
    return NULL;
  }
  return make_int(env, n);
}

/* concealInto(out: Int16Array): number — PLC for exactly out.length / channels samples. */
static napi_value decoder_conceal_into(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  decoder_wrap *w = unwrap_open(env, info, &argc, argv);
  if (w == NULL) return NULL;
  if (argc < 1) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "concealInto(out) needs out");
    return NULL;
  }
  void *out = NULL;
  size_t out_len = 0;
  if (!get_typed(env, argv[0], napi_int16_array, "out", &out, &out_len)) return NULL;
  int frame_size;
  if (!frame_size_of(env, w, out_len, &frame_size)) return NULL;
  /* libopus only conceals whole 2.5 ms steps (opus_decode_native checks frame_size % (Fs/400)). */
  if (frame_size % (w->sample_rate / 400) != 0) {
    napi_throw_range_error(env, "OPUS_BAD_ARG", "concealInto: the duration must be a multiple of 2.5 ms");
    return NULL;
  }
  int n = opus_decode(w->dec, NULL, 0, (opus_int16 *)out, frame_size, 0);
  if (n < 0) {
    throw_opus(env, "opus_decode (plc)", n);
    return NULL;
  }
  return make_int(env, n);
}

static napi_value decoder_reset(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  decoder_wrap *w = unwrap_open(env, info, &argc, NULL);
  if (w == NULL) return NULL;
  int err = opus_decoder_ctl(w->dec, OPUS_RESET_STATE);
  if (err != OPUS_OK) {
    throw_opus(env, "OPUS_RESET_STATE", err);
    return NULL;
  }
  return make_undefined(env);
}

static napi_value decoder_last_packet_duration(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  decoder_wrap *w = unwrap_open(env, info, &argc, NULL);
  if (w == NULL) return NULL;
  opus_int32 d = 0;
  int err = opus_decoder_ctl(w->dec, OPUS_GET_LAST_PACKET_DURATION(&d));
  if (err != OPUS_OK) {
    throw_opus(env, "OPUS_GET_LAST_PACKET_DURATION", err);
    return NULL;
  }
  return make_int(env, d);
}

/* close(): frees the libopus state now instead of at GC; idempotent. */
static napi_value decoder_close(napi_env env, napi_callback_info info) {
  napi_value self;
  void *ptr = NULL;
  size_t argc = 0;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, NULL, &self, NULL));
  if (napi_unwrap(env, self, &ptr) == napi_ok && ptr != NULL) {
    decoder_wrap *w = (decoder_wrap *)ptr;
    if (w->dec) {
      opus_decoder_destroy(w->dec);
      w->dec = NULL;
    }
  }
  return make_undefined(env);
}

/* ---- clock and scheduling --------------------------------------------------------------------- */

static napi_value monotonic_ns(napi_env env, napi_callback_info info) {
  (void)info;
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
    napi_throw_error(env, "ARGON_NATIVE_CLOCK", strerror(errno));
    return NULL;
  }
  uint64_t ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
  napi_value out;
  NAPI_CALL(env, napi_create_bigint_uint64(env, ns, &out));
  return out;
}

/* sleepUntilNs(ns: bigint): void — blocks the calling thread until CLOCK_MONOTONIC >= ns. */
static napi_value sleep_until_ns(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "sleepUntilNs(ns) needs a bigint deadline");
    return NULL;
  }
  uint64_t ns = 0;
  bool lossless = true;
  napi_valuetype t;
  NAPI_CALL(env, napi_typeof(env, argv[0], &t));
  if (t != napi_bigint) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "sleepUntilNs: the deadline must be a bigint");
    return NULL;
  }
  NAPI_CALL(env, napi_get_value_bigint_uint64(env, argv[0], &ns, &lossless));
  if (!lossless) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "sleepUntilNs: the deadline must fit in 0..2^64-1");
    return NULL;
  }
  struct timespec ts;
  ts.tv_sec = (time_t)(ns / 1000000000ull);
  ts.tv_nsec = (long)(ns % 1000000000ull);
  int rc;
  /* clock_nanosleep returns the error number instead of setting errno. An absolute deadline makes
   * restarting after a signal (EINTR) exact: no remaining-time arithmetic. */
  do {
    rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
  } while (rc == EINTR);
  if (rc != 0) {
    napi_throw_error(env, "ARGON_NATIVE_CLOCK", strerror(rc));
    return NULL;
  }
  return make_undefined(env);
}

static const char *policy_name(int policy) {
  switch (policy) {
    case SCHED_OTHER: return "other";
    case SCHED_FIFO: return "fifo";
    case SCHED_RR: return "rr";
#ifdef SCHED_BATCH
    case SCHED_BATCH: return "batch";
#endif
#ifdef SCHED_IDLE
    case SCHED_IDLE: return "idle";
#endif
    default: return "unknown";
  }
}

static int set_named(napi_env env, napi_value obj, const char *key, napi_value v) {
  return napi_set_named_property(env, obj, key, v) == napi_ok;
}

static napi_value make_str(napi_env env, const char *s) {
  napi_value out;
  if (napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &out) != napi_ok) return NULL;
  return out;
}

static napi_value make_bool(napi_env env, bool b) {
  napi_value out;
  if (napi_get_boolean(env, b, &out) != napi_ok) return NULL;
  return out;
}

/* { policy, priority } of the calling thread. */
static napi_value policy_object(napi_env env, napi_value obj) {
  int policy = SCHED_OTHER;
  struct sched_param sp;
  memset(&sp, 0, sizeof sp);
  int rc = pthread_getschedparam(pthread_self(), &policy, &sp);
  if (rc != 0) {
    napi_throw_error(env, "ARGON_NATIVE_SCHED", strerror(rc));
    return NULL;
  }
  if (!set_named(env, obj, "policy", make_str(env, policy_name(policy)))) return NULL;
  if (!set_named(env, obj, "priority", make_int(env, sp.sched_priority))) return NULL;
  return obj;
}

static napi_value get_thread_policy(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj;
  NAPI_CALL(env, napi_create_object(env, &obj));
  return policy_object(env, obj);
}

/*
 * setRealtimePriority(priority: number): { ok, policy, priority, error? }
 * Asks for SCHED_FIFO on the calling thread only (pthread_setschedparam, not sched_setscheduler on
 * the process), so only the pacer's worker becomes real-time and a runaway main thread cannot starve
 * the machine. Never throws for a refusal: EPERM without root/CAP_SYS_NICE/RLIMIT_RTPRIO is normal.
 */
static napi_value set_realtime_priority(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t prio = 10;
  napi_valuetype t = napi_undefined;
  if (argc > 0) NAPI_CALL(env, napi_typeof(env, argv[0], &t));
  if (t != napi_undefined) NAPI_CALL(env, napi_get_value_int32(env, argv[0], &prio));
  int lo = sched_get_priority_min(SCHED_FIFO), hi = sched_get_priority_max(SCHED_FIFO);
  napi_value obj;
  NAPI_CALL(env, napi_create_object(env, &obj));
  int rc;
  if (prio < lo || prio > hi) {
    rc = EINVAL;
  } else {
    struct sched_param sp;
    memset(&sp, 0, sizeof sp);
    sp.sched_priority = prio;
    rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
  }
  if (!set_named(env, obj, "ok", make_bool(env, rc == 0))) return NULL;
  if (rc != 0) {
    char msg[160];
    if (rc == EINVAL) {
      snprintf(msg, sizeof msg, "%s (SCHED_FIFO priority must be %d..%d)", strerror(rc), lo, hi);
    } else {
      snprintf(msg, sizeof msg, "%s", strerror(rc));
    }
    if (!set_named(env, obj, "error", make_str(env, msg))) return NULL;
  }
  return policy_object(env, obj);
}

static napi_value libopus_version(napi_env env, napi_callback_info info) {
  (void)info;
  return make_str(env, opus_get_version_string());
}

/* ---- module init ------------------------------------------------------------------------------ */

static int export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) != napi_ok) return 0;
  return napi_set_named_property(env, exports, name, fn) == napi_ok;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor methods[] = {
    {"decodeInto", NULL, decoder_decode_into, NULL, NULL, NULL, napi_default_method, NULL},
    {"concealInto", NULL, decoder_conceal_into, NULL, NULL, NULL, napi_default_method, NULL},
    {"reset", NULL, decoder_reset, NULL, NULL, NULL, napi_default_method, NULL},
    {"lastPacketDuration", NULL, decoder_last_packet_duration, NULL, NULL, NULL, napi_default_method, NULL},
    {"close", NULL, decoder_close, NULL, NULL, NULL, napi_default_method, NULL},
  };
  napi_value ctor;
  NAPI_CALL(env, napi_define_class(env, "Decoder", NAPI_AUTO_LENGTH, decoder_new, NULL,
                                   sizeof methods / sizeof methods[0], methods, &ctor));
  NAPI_CALL(env, napi_set_named_property(env, exports, "Decoder", ctor));
  if (!export_fn(env, exports, "monotonicNs", monotonic_ns) ||
      !export_fn(env, exports, "sleepUntilNs", sleep_until_ns) ||
      !export_fn(env, exports, "setRealtimePriority", set_realtime_priority) ||
      !export_fn(env, exports, "getThreadPolicy", get_thread_policy) ||
      !export_fn(env, exports, "libopusVersion", libopus_version)) {
    return NULL;
  }
  napi_value abi;
  NAPI_CALL(env, napi_create_int32(env, ARGON_VOICE_NATIVE_ABI, &abi));
  NAPI_CALL(env, napi_set_named_property(env, exports, "abiVersion", abi));
  napi_value max_frame;
  NAPI_CALL(env, napi_create_int32(env, MAX_FRAME_SAMPLES_48K, &max_frame));
  NAPI_CALL(env, napi_set_named_property(env, exports, "maxFrameSamples", max_frame));
  return exports;
}
