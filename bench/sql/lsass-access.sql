-- Handles opened to lsass.exe, blocked LSASS theft, and command lines of dump tools.
SELECT "Timestamp", DeviceName, DeviceId, ActionType, InitiatingProcessFileName AS ProcessFileName,
    InitiatingProcessCommandLine AS ProcessCommandLine, InitiatingProcessId AS ProcessId,
    InitiatingProcessCreationTime AS ProcessCreationTime, InitiatingProcessSHA1 AS SHA1,
    InitiatingProcessAccountName AS AccountName
FROM DeviceEvents
WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) AND ((ActionType = 'OpenProcessApiCall' AND lower(FileName) = 'lsass.exe')
    OR starts_with(lower(ActionType), 'asrlsasscredentialtheft'))
UNION ALL
SELECT "Timestamp", DeviceName, DeviceId, 'DumpCommandLine', FileName, ProcessCommandLine, ProcessId,
    ProcessCreationTime, SHA1, AccountName
FROM DeviceProcessEvents
WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) AND (regexp_matches(lower(ProcessCommandLine), '(^|[^a-z0-9_])(sekurlsa|lsadump|minidump)($|[^a-z0-9_])')
    OR (regexp_matches(lower(ProcessCommandLine), '(^|[^a-z0-9_])lsass($|[^a-z0-9_])')
        AND lower(FileName) IN ('procdump.exe', 'procdump64.exe', 'rundll32.exe')))
ORDER BY "Timestamp"
