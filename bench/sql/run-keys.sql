-- Autostart registry values set or deleted, with how many devices have the same value.
WITH autostart AS (
    SELECT * FROM DeviceRegistryEvents
    WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND ActionType IN ('RegistryValueSet', 'RegistryValueDeleted')
        AND (ends_with(lower(RegistryKey), lower('\CurrentVersion\Run'))
        OR ends_with(lower(RegistryKey), lower('\CurrentVersion\RunOnce'))
        OR ends_with(lower(RegistryKey), lower('\CurrentVersion\RunOnceEx'))
        OR ends_with(lower(RegistryKey), lower('\CurrentVersion\RunServices'))
        OR ends_with(lower(RegistryKey), lower('\CurrentVersion\RunServicesOnce'))
        OR ends_with(lower(RegistryKey), lower('\Policies\Explorer\Run'))
        OR (ends_with(lower(RegistryKey), lower('\Windows NT\CurrentVersion\Winlogon'))
            AND lower(RegistryValueName) IN ('shell', 'userinit', 'taskman', 'appsetup'))
        OR (ends_with(lower(RegistryKey), lower('\Windows NT\CurrentVersion\Windows'))
            AND lower(RegistryValueName) IN ('load', 'run', 'appinit_dlls'))
        OR (ends_with(lower(RegistryKey), lower('\Explorer\User Shell Folders')) AND lower(RegistryValueName) = 'startup')
        OR (ends_with(lower(RegistryKey), lower('\Control\Session Manager')) AND lower(RegistryValueName) = 'bootexecute'))
),
prevalence AS (
    SELECT RegistryValueName, RegistryValueData, count(DISTINCT DeviceId) AS DevicesWithValue
    FROM autostart GROUP BY ALL
),
per_device AS (
    SELECT DeviceId, count(DISTINCT RegistryKey || '|' || RegistryValueName) AS ValuesOnDevice
    FROM autostart GROUP BY ALL
)
SELECT "Timestamp", DeviceName, a.DeviceId, ActionType, RegistryKey, a.RegistryValueName,
    a.RegistryValueData, RegistryValueType, DevicesWithValue, ValuesOnDevice,
    InitiatingProcessFileName, InitiatingProcessCommandLine, InitiatingProcessId,
    InitiatingProcessCreationTime, InitiatingProcessAccountName
FROM autostart a
JOIN prevalence p ON p.RegistryValueName = a.RegistryValueName AND p.RegistryValueData = a.RegistryValueData
JOIN per_device d ON d.DeviceId = a.DeviceId
ORDER BY DevicesWithValue, "Timestamp"
