// cuda-basic: the CUDA validation workload of the OpenShell GPU images.
//
// It proves that a sandbox can really compute on its GPUs, and when it
// cannot, it says where and why. Deterministic: no random numbers, no float
// tolerances. Every input is an integer small enough that single-precision
// arithmetic is exact, so every output element is compared for equality and
// the whole output is summed into a 64-bit checksum on the GPU (atomics) and
// on the host.
//
// stdout: facts (versions, devices, results) and, last, the SUCCESS marker.
// stderr: on failure, the FAILURE marker naming the stage, the CUDA error
// name, number and string, and a hint.
//
// Usage: openshell-gpu-workload [--expect-devices N]
//   or OPENSHELL_GPU_EXPECT_DEVICES=N: require exactly N visible devices
//   (default: at least one).
// Exit status: 0 success; 1 a CUDA call or launch failed; 2 a result was
// wrong; 3 the device count is not what was required; 64 usage error.
#include <cuda_runtime.h>

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKLOAD "cuda-basic"
#define SUCCESS  "OPENSHELL_GPU_WORKLOAD_SUCCESS"
#define FAILURE  "OPENSHELL_GPU_WORKLOAD_FAILURE"

enum { EXIT_CUDA = 1, EXIT_WRONG = 2, EXIT_DEVICES = 3, EXIT_USAGE = 64 };

// What a CUDA error usually means inside a sandbox.
static const char *hint_for(cudaError_t e)
{
    switch ((int)e) {
    case 35:
        return "the driver is older than this CUDA runtime (CUDA 13 needs >= 580, CUDA 12 >= "
               "525), or libcuda.so.1 was not injected into the sandbox";
    case 34:
        return "a stub libcuda.so was loaded instead of the real driver library; check the "
               "library path and the CDI mounts";
    case 100:
        return "no CUDA device is visible: /dev/nvidia<N> is missing or blocked by the device "
               "cgroup";
    case 3:
        return "driver initialisation failed: /dev/nvidiactl or /dev/nvidia-uvm is missing or "
               "not read-write";
    case 803:
        return "the kernel module and the user-space driver (libcuda) have different versions";
    case 209:
        return "this binary carries no kernel image for this GPU's architecture";
    case 222:
        return "the embedded PTX is newer than the driver can compile; update the driver";
    case 304:
        return "an OS call failed: /proc/self/task/<tid>/comm must be writable and the device "
               "nodes read-write";
    default:
        return "see the CUDA runtime documentation for this error";
    }
}

static int fail_cuda(const char *stage, cudaError_t e)
{
    fprintf(stderr, "%s %s stage=%s error=%s(%d): %s; hint: %s\n", FAILURE, WORKLOAD, stage,
            cudaGetErrorName(e), (int)e, cudaGetErrorString(e), hint_for(e));
    return EXIT_CUDA;
}

// Every CUDA call, launch and synchronisation goes through CHECK.
#define CHECK(stage, call)                                                                         \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess)                                                                     \
            return fail_cuda(stage, e_);                                                           \
    } while (0)

// After a launch: the launch error, then the execution error.
#define CHECK_LAUNCH(stage)                                                                        \
    do {                                                                                           \
        CHECK(stage " launch", cudaGetLastError());                                                \
        CHECK(stage " sync", cudaDeviceSynchronize());                                             \
    } while (0)

static int fail_wrong(const char *stage, const char *what)
{
    fprintf(stderr, "%s %s stage=%s wrong result: %s\n", FAILURE, WORKLOAD, stage, what);
    return EXIT_WRONG;
}

// ---- SAXPY on integer-valued floats: y = a*x + y, exact ------------------

#define SAXPY_N ((1u << 20) + 3u) // not a multiple of any block size
#define SAXPY_A 3.0f

static __host__ __device__ float saxpy_x(uint32_t i)
{
    return (float)((i * 7u + 3u) % 1021u);
}

static __host__ __device__ float saxpy_y(uint32_t i)
{
    return (float)((i * 13u + 5u) % 1019u);
}

__global__ void saxpy_init(uint32_t n, float *x, float *y)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        x[i] = saxpy_x(i);
        y[i] = saxpy_y(i);
    }
}

__global__ void saxpy(uint32_t n, float a, const float *x, float *y,
                      unsigned long long *sum)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float r = a * x[i] + y[i];
        y[i] = r;
        atomicAdd(sum, (unsigned long long)r);
    }
}

// ---- an odd-shaped 3-D grid: every cell written once, bounds checked -----

#define GX 97u
#define GY 53u
#define GZ 29u

static __host__ __device__ uint32_t cell_value(uint32_t x, uint32_t y, uint32_t z)
{
    // A position-sensitive value: a transposed, skipped or
    // duplicated cell changes the element check and the checksum.
    return (x * 2654435761u) ^ (y * 40503u) ^ (z * 97u + 1u);
}

__global__ void grid_fill(uint32_t *out, unsigned long long *sum)
{
    uint32_t x = blockIdx.x * blockDim.x + threadIdx.x;
    uint32_t y = blockIdx.y * blockDim.y + threadIdx.y;
    uint32_t z = blockIdx.z * blockDim.z + threadIdx.z;
    if (x < GX && y < GY && z < GZ) {
        uint32_t v = cell_value(x, y, z);
        out[(z * GY + y) * GX + x] = v;
        atomicAdd(sum, (unsigned long long)v);
    }
}

// ---- steps ----------------------------------------------------------------

static int parse_count(const char *s, const char *what, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 1024) {
        fprintf(stderr, "%s %s stage=arguments %s: `%s` is not a device count 1..1024\n",
                FAILURE, WORKLOAD, what, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, int *expect)
{
    const char *env = getenv("OPENSHELL_GPU_EXPECT_DEVICES");
    *expect = 0;
    if (env && *env && parse_count(env, "OPENSHELL_GPU_EXPECT_DEVICES", expect) < 0)
        return -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--expect-devices") == 0 && i + 1 < argc) {
            if (parse_count(argv[++i], "--expect-devices", expect) < 0)
                return -1;
        } else {
            fprintf(stderr, "%s %s stage=arguments unknown argument `%s` (usage: %s "
                            "[--expect-devices N])\n",
                    FAILURE, WORKLOAD, argv[i], argv[0]);
            return -1;
        }
    }
    return 0;
}

static void format_uuid(const cudaUUID_t *u, char out[64])
{
    const unsigned char *b = (const unsigned char *)u->bytes;
    int n = snprintf(out, 64, "GPU-");
    for (int i = 0; i < 16; i++) {
        n += snprintf(out + n, 64 - n, "%02x", b[i]);
        if (i == 3 || i == 5 || i == 7 || i == 9)
            n += snprintf(out + n, 64 - n, "-");
    }
}

static int describe_device(int dev)
{
    cudaDeviceProp p;
    CHECK("get device properties", cudaGetDeviceProperties(&p, dev));
    char uuid[64];
    format_uuid(&p.uuid, uuid);
    printf("device %d: name=\"%s\" compute_capability=%d.%d pci=%04x:%02x:%02x.0 uuid=%s "
           "memory_mib=%zu multiprocessors=%d\n",
           dev, p.name, p.major, p.minor, (unsigned)p.pciDomainID, (unsigned)p.pciBusID,
           (unsigned)p.pciDeviceID, uuid, p.totalGlobalMem >> 20, p.multiProcessorCount);
    return 0;
}

static int run_saxpy(int dev, float *x, float *y, unsigned long long *sum, float *host)
{
    const uint32_t n = SAXPY_N, block = 256, blocks = (n + block - 1) / block;
    CHECK("saxpy memset", cudaMemset(sum, 0, sizeof(*sum)));
    saxpy_init<<<blocks, block>>>(n, x, y);
    CHECK_LAUNCH("saxpy init");
    saxpy<<<blocks, block>>>(n, SAXPY_A, x, y, sum);
    CHECK_LAUNCH("saxpy");
    CHECK("saxpy copy back", cudaMemcpy(host, y, n * sizeof(float), cudaMemcpyDeviceToHost));
    unsigned long long gpu_sum = 0, want_sum = 0;
    CHECK("saxpy checksum copy", cudaMemcpy(&gpu_sum, sum, sizeof(gpu_sum),
                                            cudaMemcpyDeviceToHost));
    for (uint32_t i = 0; i < n; i++) {
        float want = SAXPY_A * saxpy_x(i) + saxpy_y(i);
        if (host[i] != want) {
            char what[160];
            snprintf(what, sizeof(what), "device %d element %u is %.1f, expected %.1f", dev, i,
                     (double)host[i], (double)want);
            return fail_wrong("saxpy verify", what);
        }
        want_sum += (unsigned long long)want;
    }
    if (gpu_sum != want_sum) {
        char what[160];
        snprintf(what, sizeof(what), "device %d checksum %llu, expected %llu", dev, gpu_sum,
                 want_sum);
        return fail_wrong("saxpy checksum", what);
    }
    printf("device %d: saxpy n=%u elements=exact checksum=%llu\n", dev, n, want_sum);
    return 0;
}

static int run_grid(int dev, uint32_t *out, unsigned long long *sum, uint32_t *host)
{
    const size_t cells = (size_t)GX * GY * GZ;
    const dim3 block(7, 5, 3); // odd block shape: 105 threads, not a warp multiple
    const dim3 grid((GX + block.x - 1) / block.x, (GY + block.y - 1) / block.y,
                    (GZ + block.z - 1) / block.z);
    CHECK("grid memset", cudaMemset(out, 0, cells * sizeof(uint32_t)));
    CHECK("grid checksum memset", cudaMemset(sum, 0, sizeof(*sum)));
    grid_fill<<<grid, block>>>(out, sum);
    CHECK_LAUNCH("grid");
    CHECK("grid copy back", cudaMemcpy(host, out, cells * sizeof(uint32_t),
                                       cudaMemcpyDeviceToHost));
    unsigned long long gpu_sum = 0, want_sum = 0;
    CHECK("grid checksum copy", cudaMemcpy(&gpu_sum, sum, sizeof(gpu_sum),
                                           cudaMemcpyDeviceToHost));
    for (uint32_t z = 0; z < GZ; z++)
        for (uint32_t y = 0; y < GY; y++)
            for (uint32_t x = 0; x < GX; x++) {
                uint32_t want = cell_value(x, y, z), got = host[(z * GY + y) * GX + x];
                if (got != want) {
                    char what[160];
                    snprintf(what, sizeof(what), "device %d cell (%u,%u,%u) is %u, expected %u",
                             dev, x, y, z, got, want);
                    return fail_wrong("grid verify", what);
                }
                want_sum += want;
            }
    if (gpu_sum != want_sum) {
        char what[160];
        snprintf(what, sizeof(what), "device %d checksum %llu, expected %llu", dev, gpu_sum,
                 want_sum);
        return fail_wrong("grid checksum", what);
    }
    printf("device %d: grid %ux%ux%u block %ux%ux%u cells=exact checksum=%llu\n", dev, GX, GY, GZ,
           block.x, block.y, block.z, want_sum);
    return 0;
}

static int run_device(int dev, float *hx, uint32_t *hg)
{
    CHECK("set device", cudaSetDevice(dev));
    float *x = NULL, *y = NULL;
    uint32_t *g = NULL;
    unsigned long long *sum = NULL;
    CHECK("alloc saxpy x", cudaMalloc(&x, SAXPY_N * sizeof(float)));
    CHECK("alloc saxpy y", cudaMalloc(&y, SAXPY_N * sizeof(float)));
    CHECK("alloc grid", cudaMalloc(&g, (size_t)GX * GY * GZ * sizeof(uint32_t)));
    CHECK("alloc checksum", cudaMalloc(&sum, sizeof(*sum)));
    int rc = run_saxpy(dev, x, y, sum, hx);
    if (rc == 0)
        rc = run_grid(dev, g, sum, hg);
    cudaFree(x);
    cudaFree(y);
    cudaFree(g);
    cudaFree(sum);
    if (rc == 0)
        CHECK("device reset", cudaDeviceReset());
    return rc;
}

int main(int argc, char **argv)
{
    int expect = 0;
    if (parse_args(argc, argv, &expect) < 0)
        return EXIT_USAGE;
    setvbuf(stdout, NULL, _IOLBF, 0);

    int runtime = 0, driver = 0;
    CHECK("runtime version", cudaRuntimeGetVersion(&runtime));
    CHECK("driver version", cudaDriverGetVersion(&driver));
    printf("%s: cuda runtime %d.%d (linked statically), driver supports cuda %d.%d\n", WORKLOAD,
           runtime / 1000, (runtime % 1000) / 10, driver / 1000, (driver % 1000) / 10);
    if (driver == 0) {
        // The runtime found no usable driver library. Say why the loader
        // refused it: not injected, or injected without what it needs.
        void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr,
                    "%s %s stage=driver load error=%s; hint: libcuda.so.1 must be injected "
                    "(CDI) and find the C library's libdl, libpthread and librt in the image\n",
                    FAILURE, WORKLOAD, dlerror());
            return EXIT_CUDA;
        }
        dlclose(h);
    }

    int count = 0;
    CHECK("device count", cudaGetDeviceCount(&count));
    printf("%s: %d device(s) visible\n", WORKLOAD, count);
    if (count < 1 || (expect && count != expect)) {
        fprintf(stderr, "%s %s stage=device count: %d visible, %s %d; hint: %s\n", FAILURE,
                WORKLOAD, count, expect ? "required exactly" : "required at least",
                expect ? expect : 1, hint_for(cudaErrorNoDevice));
        return EXIT_DEVICES;
    }

    float *hx = (float *)malloc(SAXPY_N * sizeof(float));
    uint32_t *hg = (uint32_t *)malloc((size_t)GX * GY * GZ * sizeof(uint32_t));
    if (!hx || !hg) {
        fprintf(stderr, "%s %s stage=host alloc: out of memory\n", FAILURE, WORKLOAD);
        return EXIT_CUDA;
    }
    int rc = 0;
    for (int dev = 0; dev < count && rc == 0; dev++) {
        rc = describe_device(dev);
        if (rc == 0)
            rc = run_device(dev, hx, hg);
    }
    free(hx);
    free(hg);
    if (rc != 0)
        return rc;
    printf("%s %s\n", SUCCESS, WORKLOAD);
    return 0;
}
