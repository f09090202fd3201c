#include "cli/status_view.h"

#include <rapidjson/document.h>

#include <sstream>

#include "cli/table.h"

namespace hearth::cli {
namespace {

std::string Str(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject() || !obj.HasMember(key)) return "";
  const rapidjson::Value& v = obj[key];
  if (v.IsString()) return v.GetString();
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsBool()) return v.GetBool() ? "yes" : "no";
  return "";
}

}  // namespace

StatusOr<std::string> RenderStatus(const std::string& status_json) {
  rapidjson::Document d;
  d.Parse(status_json.c_str());
  if (d.HasParseError() || !d.IsObject()) return Status::Corruption("daemon sent a status that is not a JSON object");
  std::ostringstream out;
  out << "hearthd " << Str(d, "version") << "  pid " << Str(d, "pid") << "  up " << Str(d, "uptime_s") << "s  listen "
      << Str(d, "listen") << "\n\n";
  Table workers({"WORKER", "PID", "BACKEND", "DEVICE", "ALIVE"});
  if (d.HasMember("workers") && d["workers"].IsArray()) {
    for (const auto& w : d["workers"].GetArray()) {
      workers.AddRow({Str(w, "id"), Str(w, "pid"), Str(w, "backend"), Str(w, "device"), Str(w, "alive")});
    }
  }
  out << workers.Render() << "\n";
  Table models({"MODEL", "PATH"});
  if (d.HasMember("models") && d["models"].IsArray()) {
    for (const auto& m : d["models"].GetArray()) models.AddRow({Str(m, "name"), Str(m, "path")});
  }
  out << models.Render();
  return out.str();
}

}  // namespace hearth::cli
