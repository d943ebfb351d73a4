/* Smoke tests of the external libraries, each used the way halograph uses it:
 * LLVM ORC LLJIT through the C API (codegen/ JIT), oneDNN's v2 C API matmul
 * (codegen/ dispatch), HDF5 write + read back (runtime/ datasets and
 * checkpoints), protobuf-c ONNX bindings generated from libonnx-dev's
 * onnx.proto (codegen/ ONNX writer), libyaml (configs) and OpenMP (runtime/
 * threads). Expected values are computed by hand in each case. */
#include "tests/hg_test.h"

#include <dnnl.h>
#include <hdf5.h>
#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "onnx/onnx.pb-c.h"

HG_LABELS(fast)

/* ------------------------------------------------------------------ LLVM */

/* Returns 0 when err is success; otherwise prints the message and returns 1. */
static int llvm_failed(LLVMErrorRef err, const char *what) {
    if (!err) return 0;
    char *msg = LLVMGetErrorMessage(err);
    fprintf(stderr, "%s: %s\n", what, msg);
    LLVMDisposeErrorMessage(msg);
    return 1;
}

/* Builds, in ctx, the module
 *   void axpy(float a, const float *x, float *y, i64 n) {
 *     for (i64 i = 0; i < n; i++) y[i] = a * x[i] + y[i];
 *   }
 * with an explicit loop (phi node, GEPs, loads, stores). */
static LLVMModuleRef build_axpy(LLVMContextRef ctx) {
    LLVMModuleRef mod = LLVMModuleCreateWithNameInContext("hg_smoke", ctx);
    LLVMTypeRef f32 = LLVMFloatTypeInContext(ctx);
    LLVMTypeRef i64 = LLVMInt64TypeInContext(ctx);
    LLVMTypeRef ptr = LLVMPointerTypeInContext(ctx, 0);
    LLVMTypeRef params[4] = {f32, ptr, ptr, i64};
    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(ctx), params, 4, 0);
    LLVMValueRef fn = LLVMAddFunction(mod, "axpy", fty);
    LLVMValueRef a = LLVMGetParam(fn, 0), x = LLVMGetParam(fn, 1);
    LLVMValueRef y = LLVMGetParam(fn, 2), n = LLVMGetParam(fn, 3);

    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(ctx, fn, "entry");
    LLVMBasicBlockRef loop = LLVMAppendBasicBlockInContext(ctx, fn, "loop");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(ctx, fn, "done");
    LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);

    LLVMPositionBuilderAtEnd(b, entry);
    LLVMValueRef zero = LLVMConstInt(i64, 0, 0);
    LLVMValueRef any = LLVMBuildICmp(b, LLVMIntSGT, n, zero, "any");
    LLVMBuildCondBr(b, any, loop, done);

    LLVMPositionBuilderAtEnd(b, loop);
    LLVMValueRef i = LLVMBuildPhi(b, i64, "i");
    LLVMValueRef px = LLVMBuildGEP2(b, f32, x, &i, 1, "px");
    LLVMValueRef py = LLVMBuildGEP2(b, f32, y, &i, 1, "py");
    LLVMValueRef xv = LLVMBuildLoad2(b, f32, px, "xv");
    LLVMValueRef yv = LLVMBuildLoad2(b, f32, py, "yv");
    LLVMValueRef ax = LLVMBuildFMul(b, a, xv, "ax");
    LLVMBuildStore(b, LLVMBuildFAdd(b, ax, yv, "sum"), py);
    LLVMValueRef next = LLVMBuildAdd(b, i, LLVMConstInt(i64, 1, 0), "next");
    LLVMValueRef more = LLVMBuildICmp(b, LLVMIntSLT, next, n, "more");
    LLVMBuildCondBr(b, more, loop, done);
    LLVMValueRef in_vals[2] = {zero, next};
    LLVMBasicBlockRef in_blocks[2] = {entry, loop};
    LLVMAddIncoming(i, in_vals, in_blocks, 2);

    LLVMPositionBuilderAtEnd(b, done);
    LLVMBuildRetVoid(b);
    LLVMDisposeBuilder(b);
    return mod;
}

HG_TEST(llvm_lljit_axpy) {
    HG_CHECK(LLVMInitializeNativeTarget() == 0);
    HG_CHECK(LLVMInitializeNativeAsmPrinter() == 0);

    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    LLVMModuleRef mod = build_axpy(LLVMOrcThreadSafeContextGetContext(tsc));
    char *verr = NULL;
    if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &verr)) {
        fprintf(stderr, "module: %s\n", verr);
        LLVMDisposeMessage(verr);
        HG_FAIL("LLVMVerifyModule rejected the axpy module");
    }
    LLVMDisposeMessage(verr);
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, tsc);
    LLVMOrcDisposeThreadSafeContext(tsc); /* the module keeps it alive */

    LLVMOrcLLJITRef jit = NULL;
    if (llvm_failed(LLVMOrcCreateLLJIT(&jit, NULL), "LLVMOrcCreateLLJIT")) {
        LLVMOrcDisposeThreadSafeModule(tsm);
        HG_FAIL("could not create an LLJIT");
    }
    LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(jit);
    if (llvm_failed(LLVMOrcLLJITAddLLVMIRModule(jit, jd, tsm), "AddLLVMIRModule")) {
        LLVMOrcDisposeLLJIT(jit);
        HG_FAIL("could not add the module");
    }
    LLVMOrcExecutorAddress addr = 0;
    int bad = llvm_failed(LLVMOrcLLJITLookup(jit, &addr, "axpy"), "lookup axpy");
    /* A missing symbol must be reported as an error, not a null address. */
    LLVMOrcExecutorAddress none = 0;
    LLVMErrorRef missing = LLVMOrcLLJITLookup(jit, &none, "no_such_function");
    int missing_reported = missing != NULL;
    if (missing) LLVMConsumeError(missing);

    float xs[5] = {1, 2, 3, 4, 5}, ys[5] = {10, 20, 30, 40, 50};
    if (!bad && addr) {
        void (*axpy)(float, const float *, float *, int64_t) =
            (void (*)(float, const float *, float *, int64_t))(uintptr_t)addr;
        axpy(0.5f, xs, ys, 5);
        axpy(2.0f, xs, ys, 0); /* n = 0: must not touch y */
    }
    LLVMOrcDisposeLLJIT(jit);
    HG_CHECK(!bad && addr != 0);
    HG_CHECK(missing_reported);
    /* y = 0.5 x + y by hand: 10.5, 21, 31.5, 42, 52.5 (exact in float) */
    const float want[5] = {10.5f, 21.0f, 31.5f, 42.0f, 52.5f};
    for (int k = 0; k < 5; k++) HG_CHECK(ys[k] == want[k]);
}

/* ----------------------------------------------------------------- oneDNN */

#define DNNL_OK(expr)                                                         \
    do {                                                                      \
        dnnl_status_t st_ = (expr);                                           \
        if (st_ != dnnl_success) HG_FAIL("%s: dnnl status %d", #expr, (int)st_); \
    } while (0)

HG_TEST(dnnl_matmul_2x3x2) {
    /* C[2x2] = A[2x3] * B[3x2], row-major (tag ab). */
    float A[6] = {1, 2, 3,
                  4, 5, 6};
    float B[6] = {7, 8,
                  9, 10,
                  11, 12};
    float C[4] = {-1, -1, -1, -1};
    /* by hand: [1*7+2*9+3*11, 1*8+2*10+3*12; 4*7+5*9+6*11, 4*8+5*10+6*12] */
    const float want[4] = {58, 64, 139, 154};

    dnnl_engine_t eng = NULL;
    dnnl_stream_t stream = NULL;
    DNNL_OK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    DNNL_OK(dnnl_stream_create(&stream, eng, dnnl_stream_default_flags));

    dnnl_memory_desc_t a_md, b_md, c_md;
    dnnl_dims_t a_dims = {2, 3}, b_dims = {3, 2}, c_dims = {2, 2};
    DNNL_OK(dnnl_memory_desc_init_by_tag(&a_md, 2, a_dims, dnnl_f32, dnnl_ab));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&b_md, 2, b_dims, dnnl_f32, dnnl_ab));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&c_md, 2, c_dims, dnnl_f32, dnnl_ab));

    dnnl_matmul_desc_t mm;
    DNNL_OK(dnnl_matmul_desc_init(&mm, &a_md, &b_md, NULL, &c_md));
    dnnl_primitive_desc_t pd = NULL;
    DNNL_OK(dnnl_primitive_desc_create(&pd, &mm, NULL, eng, NULL));
    dnnl_primitive_t prim = NULL;
    DNNL_OK(dnnl_primitive_create(&prim, pd));

    dnnl_memory_t a_mem, b_mem, c_mem;
    DNNL_OK(dnnl_memory_create(&a_mem, &a_md, eng, A));
    DNNL_OK(dnnl_memory_create(&b_mem, &b_md, eng, B));
    DNNL_OK(dnnl_memory_create(&c_mem, &c_md, eng, C));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, a_mem},
                               {DNNL_ARG_WEIGHTS, b_mem},
                               {DNNL_ARG_DST, c_mem}};
    DNNL_OK(dnnl_primitive_execute(prim, stream, 3, args));
    DNNL_OK(dnnl_stream_wait(stream));

    /* A shape mismatch (A is 2x3, weights 2x2) must be refused. */
    dnnl_matmul_desc_t bad;
    int refused = dnnl_matmul_desc_init(&bad, &a_md, &c_md, NULL, &c_md) != dnnl_success;

    dnnl_memory_destroy(a_mem);
    dnnl_memory_destroy(b_mem);
    dnnl_memory_destroy(c_mem);
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(pd);
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(eng);

    for (int k = 0; k < 4; k++) HG_CHECK(C[k] == want[k]);
    HG_CHECK(refused);
}

/* ------------------------------------------------------------------- HDF5 */

HG_TEST(hdf5_write_read) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    char path[1200];
    snprintf(path, sizeof path, "%s/deps_smoke.h5", hg_test_tmpdir());

    double out[3][4];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++) out[r][c] = 10.0 * r + c + 0.25;

    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    HG_CHECK(f >= 0);
    hsize_t dims[2] = {3, 4};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t ds = H5Dcreate2(f, "halos/pos", H5T_IEEE_F64LE, sp, H5P_DEFAULT,
                          H5P_DEFAULT, H5P_DEFAULT);
    /* "halos" does not exist: without a link-creation property list that
     * creates intermediate groups this must fail (quietly). */
    HG_CHECK(ds < 0);
    hid_t g = H5Gcreate2(f, "halos", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    HG_CHECK(g >= 0);
    ds = H5Dcreate2(g, "pos", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                    H5P_DEFAULT);
    HG_CHECK(ds >= 0);
    HG_CHECK(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0);
    H5Dclose(ds);
    H5Gclose(g);
    H5Sclose(sp);
    HG_CHECK(H5Fclose(f) >= 0);

    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    HG_CHECK(f >= 0);
    ds = H5Dopen2(f, "/halos/pos", H5P_DEFAULT);
    HG_CHECK(ds >= 0);
    sp = H5Dget_space(ds);
    hsize_t got_dims[2] = {0, 0};
    HG_CHECK(H5Sget_simple_extent_ndims(sp) == 2);
    H5Sget_simple_extent_dims(sp, got_dims, NULL);
    double in[3][4];
    memset(in, 0, sizeof in);
    /* read as float: HDF5 converts f64 -> f32 */
    float inf[3][4];
    HG_CHECK(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, in) >= 0);
    HG_CHECK(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, inf) >= 0);
    H5Sclose(sp);
    H5Dclose(ds);
    hid_t nope = H5Dopen2(f, "/halos/vel", H5P_DEFAULT);
    H5Fclose(f);
    HG_CHECK(nope < 0);
    HG_CHECK(H5Fopen("/nonexistent/dir/x.h5", H5F_ACC_RDONLY, H5P_DEFAULT) < 0);

    HG_CHECK(got_dims[0] == 3 && got_dims[1] == 4);
    HG_CHECK(in[2][3] == 23.25 && in[0][0] == 0.25 && in[1][2] == 12.25);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++) {
            HG_CHECK(in[r][c] == out[r][c]);
            HG_CHECK(inf[r][c] == (float)out[r][c]);
        }
    remove(path);
}

/* ------------------------------------------------------------- protobuf-c */

HG_TEST(onnx_model_roundtrip) {
    Onnx__ModelProto m;
    onnx__model_proto__init(&m);
    Onnx__OperatorSetIdProto op;
    onnx__operator_set_id_proto__init(&op);
    op.domain = "";
    op.has_version = 1;
    op.version = 17;
    Onnx__OperatorSetIdProto *ops[1] = {&op};
    m.has_ir_version = 1;
    m.ir_version = 8;
    m.n_opset_import = 1;
    m.opset_import = ops;
    m.producer_name = "halograph";

    size_t n = onnx__model_proto__get_packed_size(&m);
    uint8_t *buf = malloc(n);
    HG_CHECK(buf != NULL);
    HG_CHECK(onnx__model_proto__pack(&m, buf) == n);
    /* Wire format by hand: field 1 (ir_version, varint) = 08 08 comes first. */
    HG_CHECK(n > 2 && buf[0] == 0x08 && buf[1] == 8);

    Onnx__ModelProto *back = onnx__model_proto__unpack(NULL, n, buf);
    /* A truncated message must be rejected (the opset entry is cut off). */
    Onnx__ModelProto *cut = onnx__model_proto__unpack(NULL, n - 1, buf);
    free(buf);
    HG_CHECK(back != NULL);
    int ok = back->has_ir_version && back->ir_version == 8 &&
             back->n_opset_import == 1 && back->opset_import[0]->has_version &&
             back->opset_import[0]->version == 17 &&
             back->opset_import[0]->domain && !back->opset_import[0]->domain[0] &&
             back->producer_name && !strcmp(back->producer_name, "halograph") &&
             back->graph == NULL;
    onnx__model_proto__free_unpacked(back, NULL);
    if (cut) onnx__model_proto__free_unpacked(cut, NULL);
    HG_CHECK(ok);
    HG_CHECK(cut == NULL);
}

/* ---------------------------------------------------------------- libyaml */

HG_TEST(yaml_parse_mapping) {
    const char *doc = "model:\n  n_layers: 4\n  name: demo\n";
    yaml_parser_t p;
    HG_CHECK(yaml_parser_initialize(&p));
    yaml_parser_set_input_string(&p, (const unsigned char *)doc, strlen(doc));
    /* Expected scalar sequence, in document order. */
    const char *want[5] = {"model", "n_layers", "4", "name", "demo"};
    int n_scalars = 0, mismatch = 0, error = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) { error = 1; break; }
        if (ev.type == YAML_SCALAR_EVENT) {
            if (n_scalars >= 5 || strcmp((const char *)ev.data.scalar.value, want[n_scalars]))
                mismatch = 1;
            n_scalars++;
        }
        int end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (end) break;
    }
    yaml_parser_delete(&p);
    HG_CHECK(!error && !mismatch && n_scalars == 5);

    /* Malformed input must produce a parser error. */
    const char *badyaml = "a: [1, 2\n";
    HG_CHECK(yaml_parser_initialize(&p));
    yaml_parser_set_input_string(&p, (const unsigned char *)badyaml, strlen(badyaml));
    int failed = 0;
    for (int k = 0; k < 100; k++) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) { failed = 1; break; }
        int end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (end) break;
    }
    yaml_parser_delete(&p);
    HG_CHECK(failed);
}

/* ----------------------------------------------------------------- OpenMP */

HG_TEST(openmp_reduction) {
    /* sum_{i=1}^{n} i = n (n + 1) / 2, exact in int64 */
    const int64_t n = 100000;
    int64_t s = 0;
    int threads = 0;
#pragma omp parallel for reduction(+ : s) num_threads(2)
    for (int64_t i = 1; i <= n; i++) {
        s += i;
        if (i == 1) threads = omp_get_num_threads();
    }
    HG_CHECK(s == n * (n + 1) / 2);
    HG_CHECK(threads >= 1);
}
