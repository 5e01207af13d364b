// Read-bandwidth probe: the ceiling a decode step (one pass over the weights) can reach.
//
// Sums the floats of a buffer much larger than the last-level cache, split evenly between
// threads, and prints the best of several passes in GB/s for each thread count. The buffer asks
// for huge pages, as the engine's weights do, and every other pass adds a software prefetch 8 KB
// ahead, as the engine's matvecs do: without either, the probe read 40-41 GB/s at 2 threads on
// the Zen 5 VM while a decode step read 51 GB/s of weights (BENCHMARKS.md, 2026-12-07), so it
// was no longer a ceiling.
// Build: cc -O3 -march=native -pthread bench/membw.c -o membw
// Usage: membw [buffer_MiB=1024] [max_threads=2] [passes=7]
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

// Bytes ahead of the reads that the prefetching passes ask for.
#define PREFETCH_AHEAD 8192
#define HUGE_PAGE (2u << 20)

// Four independent 32-byte accumulators hide the add latency so the loop is bound by loads.
typedef float v8f __attribute__((vector_size(32)));

typedef struct {
  const float* data;
  size_t count;  // multiple of 32
  int prefetch;  // whether to prefetch PREFETCH_AHEAD bytes ahead
  float sum;
} Slice;

static void* sum_slice(void* arg) {
  Slice* slice = (Slice*)arg;
  v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
  const char* base = (const char*)slice->data;
  for (size_t i = 0; i < slice->count; i += 32) {
    if (slice->prefetch) {  // the two cache lines of 128 bytes on
      __builtin_prefetch(base + i * sizeof(float) + PREFETCH_AHEAD, 0, 3);
      __builtin_prefetch(base + i * sizeof(float) + PREFETCH_AHEAD + 64, 0, 3);
    }
    v8f x0, x1, x2, x3;
    memcpy(&x0, slice->data + i, sizeof x0);
    memcpy(&x1, slice->data + i + 8, sizeof x1);
    memcpy(&x2, slice->data + i + 16, sizeof x2);
    memcpy(&x3, slice->data + i + 24, sizeof x3);
    a0 += x0;
    a1 += x1;
    a2 += x2;
    a3 += x3;
  }
  v8f total = a0 + a1 + a2 + a3;
  float sum = 0;
  for (int k = 0; k < 8; ++k) sum += total[k];
  slice->sum = sum;
  return NULL;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char** argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
  int max_threads = argc > 2 ? atoi(argv[2]) : 2;
  int passes = argc > 3 ? atoi(argv[3]) : 7;
  if (mib == 0 || max_threads < 1 || max_threads > 256 || passes < 1) {
    fprintf(stderr, "usage: membw [buffer_MiB>0] [max_threads 1..256] [passes>0]\n");
    return 2;
  }
  size_t count = mib * 1024 * 1024 / sizeof(float);
  count -= count % (32 * (size_t)max_threads);
  float* data = NULL;
  if (posix_memalign((void**)&data, HUGE_PAGE, count * sizeof(float)) != 0) {
    fprintf(stderr, "membw: cannot allocate %zu MiB\n", mib);
    return 1;
  }
#ifdef MADV_HUGEPAGE
  madvise(data, count * sizeof(float), MADV_HUGEPAGE);  // a hint: 4 KiB pages still work
#endif
  // Touch every page with a non-zero value so reads hit real memory, not the shared zero page.
  for (size_t i = 0; i < count; ++i) data[i] = (float)(i & 7);

  double checksum = 0;
  for (int threads = 1; threads <= max_threads; ++threads) {
    size_t per_thread = count / (size_t)threads;
    per_thread -= per_thread % 32;
    Slice slices[256];
    pthread_t ids[256];
    double best = 1e30;
    // Each pass runs once plain and once prefetching, in turns, so a drifting machine treats both
    // alike; the best of all of them is printed.
    for (int pass = 0; pass < 2 * passes; ++pass) {
      double start = now_seconds();
      for (int t = 0; t < threads; ++t) {
        slices[t] = (Slice){data + (size_t)t * per_thread, per_thread, pass % 2, 0};
        pthread_create(&ids[t], NULL, sum_slice, &slices[t]);
      }
      for (int t = 0; t < threads; ++t) {
        pthread_join(ids[t], NULL);
        checksum += slices[t].sum;
      }
      double elapsed = now_seconds() - start;
      if (elapsed < best) best = elapsed;
    }
    double bytes = (double)per_thread * (double)threads * sizeof(float);
    printf("membw threads=%d buffer_mib=%zu gbps=%.2f\n", threads, mib, bytes / best / 1e9);
  }
  // Printing the checksum keeps the compiler from discarding the sums.
  fprintf(stderr, "membw checksum %.1f\n", checksum);
  free(data);
  return 0;
}
