// Dict keys (any bytes) as KV keys (docs/bridge.md, "Keys"). A KV key is
// [-/_=.a-zA-Z0-9]+ with no '.' first, last or twice in a row. A Dict key
// that is such a key and does not start with '=' is its own KV key; any
// other (empty, other bytes, a leading '=') becomes '=' and its base64url
// without padding, whose alphabet is within the KV key's. Reversible: a KV
// key starting with '=' is always an encoded one.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "shmring/ipc/dict.hpp"

namespace shmring::bridge::detail {

[[nodiscard]] std::string kv_key_of(std::span<const std::byte> dict_key);
// nullopt: not a key this encoding makes (written to the bucket by someone else).
[[nodiscard]] std::optional<Bytes> dict_key_of(std::string_view kv_key);

}  // namespace shmring::bridge::detail
