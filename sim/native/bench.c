// Steps an MJCF model with native MuJoCo, holding a fixed control, and prints one JSON line.
//
//   bench MODEL.xml STEPS REPEATS KEY [CTRL...]
//
// Each repeat resets the data (to keyframe KEY, or to qpos0 when KEY is -1), sets the control
// (CTRL if given, else the keyframe's or zero), then times STEPS calls of mj_step after one
// untimed warm-up run of up to 1000 steps. The reported rate is the
// median over repeats; qpos/qvel/time are those after the last repeat (every repeat starts
// from the same reset state, so they are identical). On failure it prints {"error": "..."}
// and exits with status 2.
//
// Build: cc -O2 -o bench bench.c -lmujoco   (Debian: apt-get install libmujoco-dev)

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mujoco/mujoco.h>

static void print_json_string(const char* s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      putchar('\\');
      putchar(c);
    } else if (c == '\n') {
      fputs("\\n", stdout);
    } else if (c < 0x20) {
      printf("\\u%04x", c);
    } else {
      putchar(c);
    }
  }
  putchar('"');
}

static int fail(const char* message) {
  fputs("{\"error\": ", stdout);
  print_json_string(message);
  fputs(", \"mujoco_version\": ", stdout);
  print_json_string(mj_versionString());
  fputs("}\n", stdout);
  return 2;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_doubles(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static void print_array(const char* name, const mjtNum* v, int n) {
  printf(", \"%s\": [", name);
  for (int i = 0; i < n; i++) printf(i ? ", %.17g" : "%.17g", v[i]);
  putchar(']');
}

int main(int argc, char** argv) {
  if (argc < 5) return fail("usage: bench MODEL.xml STEPS REPEATS KEY [CTRL...]");
  long steps = strtol(argv[2], NULL, 10);
  long repeats = strtol(argv[3], NULL, 10);
  long key = strtol(argv[4], NULL, 10);
  if (steps <= 0 || repeats <= 0) return fail("STEPS and REPEATS must be positive integers");

  char error[1000] = "";
  mjModel* m = mj_loadXML(argv[1], NULL, error, sizeof(error));
  if (!m) return fail(error[0] ? error : "mj_loadXML failed without a message");
  if (key < -1 || key >= m->nkey) {
    char msg[200];
    snprintf(msg, sizeof(msg), "keyframe %ld does not exist: the model has %d keyframes", key, m->nkey);
    mj_deleteModel(m);
    return fail(msg);
  }
  int nctrl = argc - 5;
  if (nctrl != 0 && nctrl != m->nu) {
    char msg[200];
    snprintf(msg, sizeof(msg), "got %d control values, the model has nu = %d", nctrl, m->nu);
    mj_deleteModel(m);
    return fail(msg);
  }
  mjData* d = mj_makeData(m);
  if (!d) {
    mj_deleteModel(m);
    return fail("mj_makeData failed");
  }

  double* rates = (double*)malloc(sizeof(double) * (size_t)repeats);
  for (long r = -1; r < repeats; r++) {
    if (key >= 0) {
      mj_resetDataKeyframe(m, d, (int)key);
    } else {
      mj_resetData(m, d);
    }
    for (int i = 0; i < nctrl; i++) d->ctrl[i] = strtod(argv[5 + i], NULL);
    if (r < 0) {  // warm-up
      for (long s = 0; s < steps && s < 1000; s++) mj_step(m, d);
      continue;
    }
    double t0 = now_seconds();
    for (long s = 0; s < steps; s++) mj_step(m, d);
    double elapsed = now_seconds() - t0;
    rates[r] = elapsed > 0 ? (double)steps / elapsed : 0;
  }
  qsort(rates, (size_t)repeats, sizeof(double), compare_doubles);
  double median = repeats % 2 ? rates[repeats / 2] : 0.5 * (rates[repeats / 2 - 1] + rates[repeats / 2]);

  printf("{\"mj_steps_per_sec\": %.6g, \"mujoco_version\": ", median);
  print_json_string(mj_versionString());
  printf(", \"steps\": %ld, \"repeats\": %ld, \"nq\": %d, \"nv\": %d, \"nu\": %d, \"time\": %.17g",
         steps, repeats, m->nq, m->nv, m->nu, d->time);
  print_array("qpos", d->qpos, m->nq);
  print_array("qvel", d->qvel, m->nv);
  fputs("}\n", stdout);

  free(rates);
  mj_deleteData(d);
  mj_deleteModel(m);
  return 0;
}
