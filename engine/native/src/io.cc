// Small I/O helpers the data path needs and Node does not offer. Kept apart from the FUSE
// addon (no libfuse dependency) so the data layer can use it without the FUSE layer.
//
// addressModulo(view, m): the address of a typed array's first byte modulo m. O_DIRECT reads
// and writes need buffers aligned to the device's block size, and JavaScript cannot see
// addresses: with this the data path carves aligned views out of its pooled buffers.
#include <node_api.h>
#include <stdint.h>

static napi_value AddressModulo(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  bool is_typed = false;
  if (argc < 2 || napi_is_typedarray(env, argv[0], &is_typed) != napi_ok || !is_typed) {
    napi_throw_type_error(env, nullptr, "addressModulo: expected a typed array and a modulus");
    return nullptr;
  }
  uint32_t modulus = 0;
  if (napi_get_value_uint32(env, argv[1], &modulus) != napi_ok || modulus == 0) {
    napi_throw_range_error(env, nullptr, "addressModulo: expected a modulus ≥ 1");
    return nullptr;
  }
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value backing;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, &backing, &offset) != napi_ok) {
    napi_throw_error(env, nullptr, "addressModulo: cannot read the typed array");
    return nullptr;
  }
  napi_value out;
  napi_create_uint32(env, static_cast<uint32_t>(reinterpret_cast<uintptr_t>(data) % modulus), &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "addressModulo", NAPI_AUTO_LENGTH, AddressModulo, nullptr, &fn);
  napi_set_named_property(env, exports, "addressModulo", fn);
  return exports;
}
