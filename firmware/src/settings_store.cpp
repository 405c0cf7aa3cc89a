#include "settings_store.h"

#include <Preferences.h>

namespace {
// Bumped when DeviceConfig's layout changes: an old blob is then ignored, never misread.
constexpr uint32_t kConfigMagic = 0xc0f16001;

struct StoredConfig {
    uint32_t magic;
    camcloud::DeviceConfig config;
};
}  // namespace

bool PreferencesConfigStore::load(camcloud::DeviceConfig& config) {
    Preferences preferences;
    if (!preferences.begin("camcloud", true)) return false;
    StoredConfig stored{};
    bool ok = preferences.getBytesLength("config") == sizeof stored &&
              preferences.getBytes("config", &stored, sizeof stored) == sizeof stored &&
              stored.magic == kConfigMagic;
    preferences.end();
    if (ok) config = stored.config;
    return ok;
}

bool PreferencesConfigStore::save(const camcloud::DeviceConfig& config) {
    Preferences preferences;
    if (!preferences.begin("camcloud", false)) return false;
    StoredConfig stored{kConfigMagic, config};
    // NVS writes the new value before it drops the old one: a power cut keeps one of the two.
    bool ok = preferences.putBytes("config", &stored, sizeof stored) == sizeof stored;
    preferences.end();
    return ok;
}
