-- The latest DeviceInfo report of each device.
SELECT DeviceName, DeviceId, "Timestamp" AS LastReport, OSPlatform, OSVersion, OSBuild, DeviceType,
    MachineGroup, OnboardingStatus, SensorHealthState, ExposureLevel, IsInternetFacing, PublicIP,
    ClientVersion, JoinType, CAST(LoggedOnUsers AS VARCHAR) AS LoggedOnUsers
FROM DeviceInfo
WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[])))
QUALIFY row_number() OVER (PARTITION BY DeviceId ORDER BY "Timestamp" DESC) = 1
