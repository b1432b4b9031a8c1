-- File events of the named files, and of every file that shares a hash with them.
WITH events AS (
    SELECT * FROM DeviceFileEvents WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[])))
),
names AS (SELECT lower(unnest($FileNames::VARCHAR[])) AS name),
hashes AS (SELECT lower(unnest($Sha1s::VARCHAR[])) AS sha1),
seeds AS (
    SELECT SHA1 FROM events
    WHERE lower(SHA1) IN (SELECT sha1 FROM hashes) OR lower(FileName) IN (SELECT name FROM names)
        OR lower(PreviousFileName) IN (SELECT name FROM names)
),
known AS (SELECT DISTINCT lower(SHA1) AS sha1 FROM seeds WHERE SHA1 IS NOT NULL AND SHA1 <> '')
SELECT "Timestamp", DeviceName, DeviceId, ActionType, FileName, FolderPath, SHA1, FileSize,
    PreviousFileName, PreviousFolderPath, InitiatingProcessFileName, InitiatingProcessCommandLine,
    InitiatingProcessId, InitiatingProcessCreationTime, InitiatingProcessAccountName
FROM events
WHERE lower(SHA1) IN (SELECT sha1 FROM known) OR lower(SHA1) IN (SELECT sha1 FROM hashes)
    OR lower(FileName) IN (SELECT name FROM names) OR lower(PreviousFileName) IN (SELECT name FROM names)
ORDER BY "Timestamp"
