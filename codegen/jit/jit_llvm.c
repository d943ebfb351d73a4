/* The LLVM side of the JIT (jit_internal.h): one process-wide session
 * holding an ORC LLJIT and a target machine for the host CPU and its
 * features (LLVMGetHostCPUName / LLVMGetHostCPUFeatures: without them LLVM
 * targets baseline x86-64 and does not use AVX-512), the default<O3>
 * pipeline with loop and SLP vectorisation, object emission, and the
 * in-process table of compiled kernels (signature -> address).
 *
 * The session is the JIT's one piece of process state (LLVM's own target
 * registry is process-global too): created by the first
 * hg_jit_session_get, reference-counted, destroyed with the last put. Every
 * entry point takes the session mutex, so programs may be compiled from
 * several threads (one at a time); compiled code runs without it.
 *
 * Compiled objects go into LLJIT's main JITDylib; symbol names carry the
 * object's cache key, so two objects never define the same name. The main
 * JITDylib resolves the C library (memset, fmodf, ...) from the process
 * and hg_rng_uniform / hg_rng_normal (ir.h) as absolute symbols. */
#include <llvm-c/Analysis.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/jit/jit_internal.h"

typedef struct {
    uint64_t h;
    char *sig;
    void *addr;
} known_kernel;

struct hg_jit_session {
    int refs;
    LLVMOrcLLJITRef jit;
    LLVMTargetMachineRef tm;
    char *triple, *cpu, *features;
    known_kernel *known;
    int n_known, cap_known;
};

static pthread_mutex_t session_mu = PTHREAD_MUTEX_INITIALIZER;
static hg_jit_session *session; /* the process's session (see above) */

static hg_status llvm_error(LLVMErrorRef err, const char *what) {
    char *m = LLVMGetErrorMessage(err);
    hg_status s = hg_error(HG_ERR_UNSUPPORTED, "jit: %s: %s", what, m);
    LLVMDisposeErrorMessage(m);
    return s;
}

static void session_destroy(hg_jit_session *s) {
    if (!s) return;
    if (s->jit) {
        LLVMErrorRef e = LLVMOrcDisposeLLJIT(s->jit);
        if (e) LLVMConsumeError(e);
    }
    if (s->tm) LLVMDisposeTargetMachine(s->tm);
    LLVMDisposeMessage(s->triple);
    LLVMDisposeMessage(s->cpu);
    LLVMDisposeMessage(s->features);
    for (int i = 0; i < s->n_known; i++) free(s->known[i].sig);
    free(s->known);
    free(s);
}

static hg_status define_runtime_symbols(hg_jit_session *s) {
    LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(s->jit);
    LLVMOrcDefinitionGeneratorRef gen;
    LLVMErrorRef e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
        &gen, LLVMOrcLLJITGetGlobalPrefix(s->jit), NULL, NULL);
    if (e) return llvm_error(e, "process symbols");
    LLVMOrcJITDylibAddGenerator(jd, gen);
    LLVMJITSymbolFlags fl = {LLVMJITSymbolGenericFlagsExported | LLVMJITSymbolGenericFlagsCallable, 0};
    LLVMOrcCSymbolMapPair syms[2] = {
        {LLVMOrcLLJITMangleAndIntern(s->jit, "hg_rng_uniform"),
         {(LLVMOrcExecutorAddress)(uintptr_t)&hg_rng_uniform, fl}},
        {LLVMOrcLLJITMangleAndIntern(s->jit, "hg_rng_normal"),
         {(LLVMOrcExecutorAddress)(uintptr_t)&hg_rng_normal, fl}},
    };
    e = LLVMOrcJITDylibDefine(jd, LLVMOrcAbsoluteSymbols(syms, 2));
    if (e) return llvm_error(e, "runtime symbols");
    return hg_ok();
}

static hg_status session_create(hg_jit_session **out) {
    hg_jit_session *s = calloc(1, sizeof *s);
    if (!s) return hg_error(HG_ERR_NOMEM, "jit: session");
    if (LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter()) {
        free(s);
        return hg_error(HG_ERR_UNSUPPORTED, "jit: LLVM has no native target");
    }
    s->triple = LLVMGetDefaultTargetTriple();
    s->cpu = LLVMGetHostCPUName();
    s->features = LLVMGetHostCPUFeatures();
    LLVMTargetRef t;
    char *msg = NULL;
    if (LLVMGetTargetFromTriple(s->triple, &t, &msg)) {
        hg_status st = hg_error(HG_ERR_UNSUPPORTED, "jit: target %s: %s", s->triple, msg);
        LLVMDisposeMessage(msg);
        session_destroy(s);
        return st;
    }
    s->tm = LLVMCreateTargetMachine(t, s->triple, s->cpu, s->features,
                                    LLVMCodeGenLevelAggressive, LLVMRelocPIC,
                                    LLVMCodeModelSmall);
    if (!s->tm) {
        session_destroy(s);
        return hg_error(HG_ERR_UNSUPPORTED, "jit: no target machine for %s", s->triple);
    }
    LLVMErrorRef e = LLVMOrcCreateLLJIT(&s->jit, NULL);
    if (e) {
        s->jit = NULL;
        hg_status st = llvm_error(e, "creating LLJIT");
        session_destroy(s);
        return st;
    }
    hg_status st = define_runtime_symbols(s);
    if (st.code != HG_OK) {
        session_destroy(s);
        return st;
    }
    *out = s;
    return hg_ok();
}

hg_status hg_jit_session_get(hg_jit_session **out) {
    pthread_mutex_lock(&session_mu);
    hg_status st = hg_ok();
    if (!session) st = session_create(&session);
    if (st.code == HG_OK) {
        session->refs++;
        *out = session;
    }
    pthread_mutex_unlock(&session_mu);
    return st;
}

void hg_jit_session_put(hg_jit_session *s) {
    if (!s) return;
    pthread_mutex_lock(&session_mu);
    if (--s->refs == 0) {
        session_destroy(s);
        session = NULL;
    }
    pthread_mutex_unlock(&session_mu);
}

const char *hg_jit_session_cpu(const hg_jit_session *s) { return s->cpu; }
const char *hg_jit_session_features(const hg_jit_session *s) { return s->features; }

/* ------------------------------------------------------------- codegen */

static void add_target_attrs(hg_jit_session *s, LLVMModuleRef M) {
    LLVMContextRef C = LLVMGetModuleContext(M);
    for (LLVMValueRef f = LLVMGetFirstFunction(M); f; f = LLVMGetNextFunction(f)) {
        if (LLVMIsDeclaration(f)) continue;
        const char *kv[3][2] = {{"target-cpu", s->cpu},
                                {"target-features", s->features},
                                {"prefer-vector-width", "512"}};
        for (int i = 0; i < 3; i++)
            LLVMAddAttributeAtIndex(
                f, LLVMAttributeFunctionIndex,
                LLVMCreateStringAttribute(C, kv[i][0], (unsigned)strlen(kv[i][0]), kv[i][1],
                                          (unsigned)strlen(kv[i][1])));
    }
}

static hg_status codegen_locked(hg_jit_session *s, LLVMModuleRef M, char **obj, size_t *n) {
    LLVMSetTarget(M, s->triple);
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(s->tm);
    LLVMSetModuleDataLayout(M, td);
    LLVMDisposeTargetData(td);
    add_target_attrs(s, M);
    char *msg = NULL;
    if (LLVMVerifyModule(M, LLVMReturnStatusAction, &msg)) {
        hg_status st = hg_error(HG_ERR_UNSUPPORTED, "jit: emitted IR does not verify: %.400s", msg);
        LLVMDisposeMessage(msg);
        return st;
    }
    LLVMDisposeMessage(msg);
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(po, 1);
    LLVMPassBuilderOptionsSetSLPVectorization(po, 1);
    LLVMPassBuilderOptionsSetLoopInterleaving(po, 1);
    LLVMPassBuilderOptionsSetLoopUnrolling(po, 1);
    LLVMErrorRef e = LLVMRunPasses(M, "default<O3>", s->tm, po);
    LLVMDisposePassBuilderOptions(po);
    if (e) return llvm_error(e, "optimising");
    if (getenv("HG_JIT_DUMP_IR")) LLVMDumpModule(M); /* debugging aid: stderr */
    LLVMMemoryBufferRef buf;
    if (LLVMTargetMachineEmitToMemoryBuffer(s->tm, M, LLVMObjectFile, &msg, &buf)) {
        hg_status st = hg_error(HG_ERR_UNSUPPORTED, "jit: code generation: %s", msg);
        LLVMDisposeMessage(msg);
        return st;
    }
    *n = LLVMGetBufferSize(buf);
    *obj = malloc(*n ? *n : 1);
    if (!*obj) {
        LLVMDisposeMemoryBuffer(buf);
        return hg_error(HG_ERR_NOMEM, "jit: object of %zu bytes", *n);
    }
    memcpy(*obj, LLVMGetBufferStart(buf), *n);
    LLVMDisposeMemoryBuffer(buf);
    return hg_ok();
}

hg_status hg_jit_session_codegen(hg_jit_session *s, LLVMModuleRef M, char **obj, size_t *n) {
    pthread_mutex_lock(&session_mu);
    hg_status st = codegen_locked(s, M, obj, n);
    pthread_mutex_unlock(&session_mu);
    LLVMDisposeModule(M);
    return st;
}

hg_status hg_jit_session_load(hg_jit_session *s, const char *obj, size_t n, int n_sym,
                              char *const *names, void **addrs) {
    pthread_mutex_lock(&session_mu);
    hg_status st = hg_ok();
    /* Two threads compiling the same kernels at once (e.g. two library
     * handles, issue 17) both miss the in-process table and emit the same
     * object; symbol names carry the object's key, so when its first
     * symbol is already defined the other thread loaded this very object:
     * use its symbols instead of defining them twice. */
    LLVMOrcExecutorAddress a0 = 0;
    LLVMErrorRef e = n_sym > 0 ? LLVMOrcLLJITLookup(s->jit, &a0, names[0]) : NULL;
    int loaded = n_sym > 0 && !e;
    if (e) LLVMConsumeError(e);
    e = NULL;
    if (!loaded) {
        LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(obj, n, "halograph-kernels");
        e = LLVMOrcLLJITAddObjectFile(s->jit, LLVMOrcLLJITGetMainJITDylib(s->jit), buf);
    }
    if (e) st = llvm_error(e, "adding the object file");
    for (int i = 0; st.code == HG_OK && i < n_sym; i++) {
        LLVMOrcExecutorAddress a = 0;
        e = LLVMOrcLLJITLookup(s->jit, &a, names[i]);
        if (e) st = llvm_error(e, names[i]);
        else addrs[i] = (void *)(uintptr_t)a;
    }
    if (st.code != HG_OK) st.code = HG_ERR_FORMAT;
    pthread_mutex_unlock(&session_mu);
    return st;
}

/* ----------------------------------------------------- in-process cache */

void *hg_jit_session_lookup(hg_jit_session *s, const char *sig) {
    uint64_t h = hg_jit_fnv(HG_FNV_INIT, sig, strlen(sig));
    void *r = NULL;
    pthread_mutex_lock(&session_mu);
    for (int i = 0; i < s->n_known && !r; i++)
        if (s->known[i].h == h && strcmp(s->known[i].sig, sig) == 0) r = s->known[i].addr;
    pthread_mutex_unlock(&session_mu);
    return r;
}

hg_status hg_jit_session_remember(hg_jit_session *s, const char *sig, void *addr) {
    hg_status st = hg_ok();
    pthread_mutex_lock(&session_mu);
    if (s->n_known == s->cap_known) {
        int cap = s->cap_known ? 2 * s->cap_known : 64;
        known_kernel *k = realloc(s->known, sizeof *k * (size_t)cap);
        if (!k) st = hg_error(HG_ERR_NOMEM, "jit: kernel table");
        else {
            s->known = k;
            s->cap_known = cap;
        }
    }
    char *c = st.code == HG_OK ? strdup(sig) : NULL;
    if (st.code == HG_OK && !c) st = hg_error(HG_ERR_NOMEM, "jit: kernel table");
    if (c) {
        known_kernel *k = &s->known[s->n_known++];
        k->h = hg_jit_fnv(HG_FNV_INIT, sig, strlen(sig));
        k->sig = c;
        k->addr = addr;
    }
    pthread_mutex_unlock(&session_mu);
    return st;
}
