// Small I/O helpers the data path needs and Node does not offer. Kept apart from the FUSE
// addon (no libfuse dependency) so the data layer can use it without the FUSE layer.
//
// addressModulo(view, m): the address of a typed array's first byte modulo m. O_DIRECT reads
// and writes need buffers aligned to the device's block size, and JavaScript cannot see
// addresses: with this the data path carves aligned views out of its pooled buffers.
//
// gcmOpenInto(key, iv, aad, ciphertext, tag, out): AES-256-GCM decryption INTO a caller's
// buffer. Node's Decipher.update always returns a new buffer; streaming at hundreds of MiB/s
// that is a GiB of fresh external memory per GiB read, which V8 answers with a mark-compact every
// few MiB. The data path decrypts into reused slots instead (data/block-cache/plain-slab.ts).
// OpenSSL is the one inside node (its symbols are exported to addons): same code as Decipher.
// On a tag mismatch the output is zeroed, so unauthenticated plaintext never escapes.
//
// gcmSealInto(key, iv, aad, plaintext, out, tagOut) and ctrXorInto(key, counter, skip, input,
// out): the write-back's side of the same idea. Uploading a chunk re-reads the log, decrypts
// it (AES-CTR: log records are GCM, read at any offset) and seals it as chunk blocks; with
// Node's ciphers that is three fresh buffers per block and a copy each. Here both land in the
// upload's reused buffers (in place for CTR: input and out may be the same memory).
//
// adviseHugePages(view): madvise(MADV_HUGEPAGE) on the 2 MiB-aligned part of a typed array's
// memory. The pooled GET buffers and the plaintext slab are large, long-lived and touched
// sequentially; on a VM each 4 KiB first-touch fault is expensive (measured: THP cut the cold
// read path's CPU by about a fifth), and transparent huge pages are usually "madvise" only.
#include <node_api.h>
#include <sys/mman.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

#include <initializer_list>

static size_t ElementBytes(napi_typedarray_type type) {
  switch (type) {
    case napi_int16_array:
    case napi_uint16_array:
      return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
      return 4;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array:
      return 8;
    default:
      return 1;
  }
}

// Any typed array's memory (data pointer and byte length); false when `v` is not one.
static bool ViewOf(napi_env env, napi_value v, void** data, size_t* bytes) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return false;
  napi_typedarray_type type;
  size_t length = 0;
  napi_value backing;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, v, &type, &length, data, &backing, &offset) != napi_ok) return false;
  *bytes = length * ElementBytes(type);  // length counts elements
  return true;
}

static napi_value AddressModulo(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  void* data = nullptr;
  size_t bytes = 0;
  uint32_t modulus = 0;
  if (argc < 2 || !ViewOf(env, argv[0], &data, &bytes)) {
    napi_throw_type_error(env, nullptr, "addressModulo: expected a typed array and a modulus");
    return nullptr;
  }
  if (napi_get_value_uint32(env, argv[1], &modulus) != napi_ok || modulus == 0) {
    napi_throw_range_error(env, nullptr, "addressModulo: expected a modulus ≥ 1");
    return nullptr;
  }
  napi_value out;
  napi_create_uint32(env, static_cast<uint32_t>(reinterpret_cast<uintptr_t>(data) % modulus), &out);
  return out;
}

struct Bytes {
  uint8_t* data = nullptr;
  size_t length = 0;
};

static bool BytesOf(napi_env env, napi_value v, Bytes* out) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return false;
  napi_typedarray_type type;
  napi_value backing;
  size_t offset = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, v, &type, &out->length, &data, &backing, &offset) != napi_ok) return false;
  if (type != napi_uint8_array) return false;
  out->data = static_cast<uint8_t*>(data);
  return true;
}

// The call's arguments as Uint8Arrays, in order; false when there are fewer or one is not.
static bool BytesArgs(napi_env env, napi_callback_info info, std::initializer_list<Bytes*> out) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < out.size() || out.size() > 8) return false;
  size_t i = 0;
  for (Bytes* b : out)
    if (!BytesOf(env, argv[i++], b)) return false;
  return true;
}

// One context per thread and use (fetch workers each have their own), set up once for `cipher`.
static thread_local EVP_CIPHER_CTX* open_ctx = nullptr;
static thread_local EVP_CIPHER_CTX* seal_ctx = nullptr;
static thread_local EVP_CIPHER_CTX* ctr_ctx = nullptr;

static EVP_CIPHER_CTX* CipherContext(EVP_CIPHER_CTX** slot, const EVP_CIPHER* cipher, bool encrypt) {
  if (*slot == nullptr) {
    *slot = EVP_CIPHER_CTX_new();
    if (*slot != nullptr && EVP_CipherInit_ex(*slot, cipher, nullptr, nullptr, nullptr, encrypt ? 1 : 0) != 1) {
      EVP_CIPHER_CTX_free(*slot);
      *slot = nullptr;
    }
  }
  return *slot;
}

static napi_value GcmOpenInto(napi_env env, napi_callback_info info) {
  Bytes key, iv, aad, ct, tag, out;
  if (!BytesArgs(env, info, {&key, &iv, &aad, &ct, &tag, &out})) {
    napi_throw_type_error(env, nullptr, "gcmOpenInto: expected six Uint8Arrays (key, iv, aad, ciphertext, tag, out)");
    return nullptr;
  }
  if (key.length != 32 || iv.length != 12 || tag.length != 16 || out.length < ct.length || ct.length > INT32_MAX ||
      aad.length > INT32_MAX) {
    napi_throw_range_error(env, nullptr, "gcmOpenInto: key 32, iv 12, tag 16 bytes, out at least the ciphertext");
    return nullptr;
  }
  EVP_CIPHER_CTX* ctx = CipherContext(&open_ctx, EVP_aes_256_gcm(), false);
  if (ctx == nullptr) {
    napi_throw_error(env, nullptr, "gcmOpenInto: cannot set up AES-256-GCM");
    return nullptr;
  }
  int n = 0;
  bool ok = EVP_DecryptInit_ex(ctx, nullptr, nullptr, key.data, iv.data) == 1 &&
            (aad.length == 0 || EVP_DecryptUpdate(ctx, nullptr, &n, aad.data, static_cast<int>(aad.length)) == 1) &&
            EVP_DecryptUpdate(ctx, out.data, &n, ct.data, static_cast<int>(ct.length)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag.data) == 1 &&
            EVP_DecryptFinal_ex(ctx, out.data + n, &n) == 1;
  if (!ok) memset(out.data, 0, ct.length);
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

static napi_value GcmSealInto(napi_env env, napi_callback_info info) {
  Bytes key, iv, aad, plain, out, tag;
  if (!BytesArgs(env, info, {&key, &iv, &aad, &plain, &out, &tag})) {
    napi_throw_type_error(env, nullptr, "gcmSealInto: expected six Uint8Arrays (key, iv, aad, plaintext, out, tag)");
    return nullptr;
  }
  if (key.length != 32 || iv.length != 12 || tag.length != 16 || out.length < plain.length ||
      plain.length > INT32_MAX || aad.length > INT32_MAX) {
    napi_throw_range_error(env, nullptr, "gcmSealInto: key 32, iv 12, tag 16 bytes, out at least the plaintext");
    return nullptr;
  }
  EVP_CIPHER_CTX* ctx = CipherContext(&seal_ctx, EVP_aes_256_gcm(), true);
  int n = 0;
  bool ok = ctx != nullptr && EVP_EncryptInit_ex(ctx, nullptr, nullptr, key.data, iv.data) == 1 &&
            (aad.length == 0 || EVP_EncryptUpdate(ctx, nullptr, &n, aad.data, static_cast<int>(aad.length)) == 1) &&
            EVP_EncryptUpdate(ctx, out.data, &n, plain.data, static_cast<int>(plain.length)) == 1 &&
            EVP_EncryptFinal_ex(ctx, out.data + n, &n) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag.data) == 1;
  if (!ok) napi_throw_error(env, nullptr, "gcmSealInto: AES-256-GCM failed");
  return nullptr;
}

static napi_value CtrXorInto(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Bytes key, counter, input, out;
  uint32_t skip = 0;
  if (argc < 5 || !BytesOf(env, argv[0], &key) || !BytesOf(env, argv[1], &counter) ||
      napi_get_value_uint32(env, argv[2], &skip) != napi_ok || !BytesOf(env, argv[3], &input) ||
      !BytesOf(env, argv[4], &out)) {
    napi_throw_type_error(env, nullptr, "ctrXorInto: expected (key, counter, skip, input, out)");
    return nullptr;
  }
  if (key.length != 32 || counter.length != 16 || skip >= 16 || out.length < input.length || input.length > INT32_MAX) {
    napi_throw_range_error(env, nullptr, "ctrXorInto: key 32, counter 16 bytes, skip < 16, out at least the input");
    return nullptr;
  }
  EVP_CIPHER_CTX* ctx = CipherContext(&ctr_ctx, EVP_aes_256_ctr(), true);
  uint8_t lead[16];
  int n = 0;
  // `skip` bytes of the first counter block's keystream belong to bytes before the input.
  bool ok = ctx != nullptr && EVP_EncryptInit_ex(ctx, nullptr, nullptr, key.data, counter.data) == 1 &&
            (skip == 0 || EVP_EncryptUpdate(ctx, lead, &n, lead, static_cast<int>(skip)) == 1) &&
            EVP_EncryptUpdate(ctx, out.data, &n, input.data, static_cast<int>(input.length)) == 1;
  if (!ok) napi_throw_error(env, nullptr, "ctrXorInto: AES-256-CTR failed");
  return nullptr;
}

static napi_value AdviseHugePages(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  void* data = nullptr;
  size_t length = 0;
  if (argc < 1 || !ViewOf(env, argv[0], &data, &length)) {
    napi_throw_type_error(env, nullptr, "adviseHugePages: expected a typed array");
    return nullptr;
  }
  bool advised = false;
#ifdef MADV_HUGEPAGE
  const uintptr_t huge = 2u << 20;
  uintptr_t start = (reinterpret_cast<uintptr_t>(data) + huge - 1) & ~(huge - 1);
  uintptr_t end = (reinterpret_cast<uintptr_t>(data) + length) & ~(huge - 1);
  // A refusal (THP off, not anonymous memory) only means no huge pages: not an error.
  if (end > start) advised = madvise(reinterpret_cast<void*>(start), end - start, MADV_HUGEPAGE) == 0;
#endif
  napi_value result;
  napi_get_boolean(env, advised, &result);
  return result;
}

void RegisterFileWrites(napi_env env, napi_value exports);  // io-file.cc

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "addressModulo", NAPI_AUTO_LENGTH, AddressModulo, nullptr, &fn);
  napi_set_named_property(env, exports, "addressModulo", fn);
  napi_create_function(env, "gcmOpenInto", NAPI_AUTO_LENGTH, GcmOpenInto, nullptr, &fn);
  napi_set_named_property(env, exports, "gcmOpenInto", fn);
  napi_create_function(env, "gcmSealInto", NAPI_AUTO_LENGTH, GcmSealInto, nullptr, &fn);
  napi_set_named_property(env, exports, "gcmSealInto", fn);
  napi_create_function(env, "ctrXorInto", NAPI_AUTO_LENGTH, CtrXorInto, nullptr, &fn);
  napi_set_named_property(env, exports, "ctrXorInto", fn);
  napi_create_function(env, "adviseHugePages", NAPI_AUTO_LENGTH, AdviseHugePages, nullptr, &fn);
  napi_set_named_property(env, exports, "adviseHugePages", fn);
  RegisterFileWrites(env, exports);
  return exports;
}
