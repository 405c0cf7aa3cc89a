// The last good remote config in flash (Preferences / NVS), for camcloud::RemoteControl.
#pragma once

#include "camcloud/remote.h"

class PreferencesConfigStore : public camcloud::ConfigStore {
public:
    bool load(camcloud::DeviceConfig& config) override;
    bool save(const camcloud::DeviceConfig& config) override;
};
