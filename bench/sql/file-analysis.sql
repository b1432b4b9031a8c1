-- What the named files did: their file events, their runs and the processes they started.
WITH names AS (SELECT lower(unnest($Names::VARCHAR[])) AS name),
hashes AS (SELECT lower(unnest($Hashes::VARCHAR[])) AS sha1),
processes AS (SELECT * FROM DeviceProcessEvents WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))))
SELECT "Timestamp", DeviceName, DeviceId, 'File' AS Evidence, ActionType, FileName, FolderPath,
    SHA1, PreviousFileName, PreviousFolderPath, CAST(NULL AS BIGINT) AS ProcessId,
    '' AS ProcessCommandLine, InitiatingProcessFileName, InitiatingProcessCommandLine,
    InitiatingProcessId, InitiatingProcessCreationTime, InitiatingProcessAccountName AS AccountName
FROM DeviceFileEvents
WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) AND (lower(SHA1) IN (SELECT sha1 FROM hashes) OR lower(FileName) IN (SELECT name FROM names)
    OR lower(PreviousFileName) IN (SELECT name FROM names))
UNION ALL
SELECT "Timestamp", DeviceName, DeviceId, 'Execution', ActionType, FileName, FolderPath, SHA1, '',
    '', ProcessId, ProcessCommandLine, InitiatingProcessFileName, InitiatingProcessCommandLine,
    InitiatingProcessId, InitiatingProcessCreationTime, AccountName
FROM processes
WHERE lower(SHA1) IN (SELECT sha1 FROM hashes) OR lower(FileName) IN (SELECT name FROM names)
    OR EXISTS (SELECT 1 FROM names WHERE regexp_matches(lower(ProcessCommandLine),
        '(^|[^a-z0-9_])' || regexp_escape(name) || '($|[^a-z0-9_])'))
UNION ALL
SELECT "Timestamp", DeviceName, DeviceId, 'Child process', ActionType, FileName, FolderPath, SHA1,
    '', '', ProcessId, ProcessCommandLine, InitiatingProcessFileName, InitiatingProcessCommandLine,
    InitiatingProcessId, InitiatingProcessCreationTime, AccountName
FROM processes
WHERE lower(InitiatingProcessSHA1) IN (SELECT sha1 FROM hashes)
    OR lower(InitiatingProcessFileName) IN (SELECT name FROM names)
    OR EXISTS (SELECT 1 FROM names WHERE regexp_matches(lower(InitiatingProcessCommandLine),
        '(^|[^a-z0-9_])' || regexp_escape(name) || '($|[^a-z0-9_])'))
ORDER BY "Timestamp"
