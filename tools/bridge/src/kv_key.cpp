#include "kv_key.hpp"

#include <cstdint>

namespace shmring::bridge::detail {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool plain_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '/' ||
         c == '_' || c == '=' || c == '.';
}

// A KV key as nats.c and the server take it (kv.c's validKey).
bool valid_kv_key(std::string_view k) noexcept {
  if (k.empty() || k.front() == '.' || k.back() == '.') return false;
  for (std::size_t i = 0; i < k.size(); ++i) {
    if (!plain_char(k[i])) return false;
    if (k[i] == '.' && k[i - 1] == '.') return false;
  }
  return true;
}

int value_of(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

std::string kv_key_of(std::span<const std::byte> dict_key) {
  const std::string_view raw(reinterpret_cast<const char*>(dict_key.data()), dict_key.size());
  if (valid_kv_key(raw) && raw.front() != '=') return std::string(raw);
  std::string out = "=";
  std::uint32_t acc = 0;
  int bits = 0;
  for (const std::byte b : dict_key) {
    acc = (acc << 8) | std::to_integer<std::uint32_t>(b);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

std::optional<Bytes> dict_key_of(std::string_view kv_key) {
  if (!valid_kv_key(kv_key)) return std::nullopt;
  if (kv_key.front() != '=') {
    const auto* p = reinterpret_cast<const std::byte*>(kv_key.data());
    return Bytes(p, p + kv_key.size());
  }
  Bytes out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : kv_key.substr(1)) {
    const int v = value_of(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::byte>((acc >> bits) & 0xff));
    }
  }
  // Left-over bits must be zero padding, else two spellings would decode alike.
  if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  // The canonical spelling only: a plain key spelled encoded is someone else's.
  if (kv_key_of(out) != kv_key) return std::nullopt;
  return out;
}

}  // namespace shmring::bridge::detail
