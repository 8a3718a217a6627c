#include "core/namespaces.hpp"

#include "core/channel_name.hpp"

namespace sb::core {

Namespaces::Namespaces(NamespaceOptions default_namespace) {
  default_namespace.name.clear();
  add(std::move(default_namespace));
}

void Namespaces::add(NamespaceOptions options) {
  std::string name = options.name;
  by_name_.insert_or_assign(std::move(name), std::move(options));
}

Result<const NamespaceOptions*> Namespaces::resolve(std::string_view channel) const {
  if (auto valid = validate_channel_name(channel); !valid) return valid.error();
  return find(channel);
}

Result<const NamespaceOptions*> Namespaces::find(std::string_view channel) const {
  auto ns = namespace_of(channel);
  auto it = by_name_.find(ns);
  if (it == by_name_.end())
    return make_error(ErrorCode::unknown_channel, "namespace '" + std::string(ns) + "' is not configured");
  return &it->second;
}

}  // namespace sb::core
