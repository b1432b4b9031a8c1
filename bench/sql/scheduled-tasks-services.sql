-- Scheduled tasks and services created, recorded by Defender or typed on a command line.
SELECT "Timestamp", DeviceName, DeviceId, ActionType,
    CASE WHEN ActionType = 'ServiceInstalled' THEN coalesce(json_extract_string(AdditionalFields, '$.ServiceName'), '')
         ELSE coalesce(json_extract_string(AdditionalFields, '$.TaskName'), '') END AS Name,
    CASE WHEN ActionType = 'ServiceInstalled' THEN coalesce(json_extract_string(AdditionalFields, '$.ServiceStartType'), '')
         ELSE coalesce(json_extract_string(AdditionalFields, '$.TaskContent'), '') END AS Detail,
    InitiatingProcessFileName, InitiatingProcessCommandLine, InitiatingProcessId,
    InitiatingProcessCreationTime, InitiatingProcessAccountName
FROM DeviceEvents
WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) AND ActionType IN ('ScheduledTaskCreated', 'ScheduledTaskUpdated', 'ServiceInstalled')
UNION ALL
SELECT "Timestamp", DeviceName, DeviceId, ActionType,
    coalesce(nullif(regexp_extract(ProcessCommandLine, '(?i)/tn\s+"([^"]+)"', 1), ''),
             regexp_extract(ProcessCommandLine, '(?i)/tn\s+(\S+)', 1)), ProcessCommandLine, FileName,
    ProcessCommandLine, ProcessId, ProcessCreationTime, AccountName
FROM DeviceProcessEvents
WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) AND ((lower(FileName) = 'schtasks.exe'
        AND regexp_matches(lower(ProcessCommandLine), '(^|[^a-z0-9_])/create($|[^a-z0-9_])'))
    OR (lower(FileName) = 'sc.exe' AND regexp_matches(lower(ProcessCommandLine), '(^|[^a-z0-9_])create($|[^a-z0-9_])')))
ORDER BY "Timestamp"
